//! Medians and spreads of paired samples.

/// The median of `samples` (the mean of the middle two for an even count).
pub fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The `q` quantile (0..=1) of `samples`, nearest rank.
pub fn quantile(samples: &[f64], q: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The smallest and largest of `samples`.
pub fn range(samples: &[f64]) -> (f64, f64) {
    samples
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        })
}

/// Paired rounds of Mosaic and its baseline: each round's ratio, their median
/// and range, beside each side's median and range.
#[derive(Clone, Debug, Default)]
pub struct Paired {
    /// Mosaic's sample per round.
    pub ours: Vec<f64>,
    /// The baseline's sample per round.
    pub base: Vec<f64>,
}

impl Paired {
    /// Adds one round.
    pub fn push(&mut self, ours: f64, base: f64) {
        self.ours.push(ours);
        self.base.push(base);
    }

    /// `ours / base` per round.
    pub fn ratios(&self) -> Vec<f64> {
        self.ours
            .iter()
            .zip(&self.base)
            .map(|(o, b)| o / b)
            .collect()
    }

    /// One report line: medians, the median ratio and the ratios' range.
    pub fn line(&self, unit: &str, scale: f64) -> String {
        let (olo, ohi) = range(&self.ours);
        let (blo, bhi) = range(&self.base);
        let ratios = self.ratios();
        let (rlo, rhi) = range(&ratios);
        format!(
            "ours {:.1} {unit} [{:.1}..{:.1}] | base {:.1} {unit} [{:.1}..{:.1}] | ratio {:.3} [{:.3}..{:.3}] (n={})",
            median(&self.ours) / scale,
            olo / scale,
            ohi / scale,
            median(&self.base) / scale,
            blo / scale,
            bhi / scale,
            median(&ratios),
            rlo,
            rhi,
            ratios.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_quantiles() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.0);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.99), 4.0);
        let mut p = Paired::default();
        p.push(2.0, 4.0);
        p.push(3.0, 3.0);
        assert_eq!(p.ratios(), vec![0.5, 1.0]);
    }
}
