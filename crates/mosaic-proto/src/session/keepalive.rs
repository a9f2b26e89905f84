//! Keepalive: ping a quiet peer, and give up on one that stays silent.

use std::time::{Duration, Instant};

/// When to ping and when a silent peer counts as gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeepaliveConfig {
    /// Ping after this long without hearing from the peer.
    pub interval: Duration,
    /// After a ping, give up if nothing arrives within this time.
    pub timeout: Duration,
}

impl Default for KeepaliveConfig {
    fn default() -> Self {
        KeepaliveConfig {
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(20),
        }
    }
}

/// What the keepalive wants done at a timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeepaliveAction {
    Nothing,
    Ping,
    PeerGone,
}

#[derive(Debug)]
pub(crate) struct Keepalive {
    config: Option<KeepaliveConfig>,
    last_heard: Instant,
    ping_sent: Option<Instant>,
}

impl Keepalive {
    pub(crate) fn new(config: Option<KeepaliveConfig>, now: Instant) -> Keepalive {
        Keepalive {
            config,
            last_heard: now,
            ping_sent: None,
        }
    }

    /// Anything arrived from the peer (a message, a ping or a pong).
    pub(crate) fn heard(&mut self, now: Instant) {
        self.last_heard = now;
        self.ping_sent = None;
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        let config = self.config?;
        Some(match self.ping_sent {
            Some(sent) => super::transmit::later(sent, config.timeout),
            None => super::transmit::later(self.last_heard, config.interval),
        })
    }

    pub(crate) fn on_timeout(&mut self, now: Instant) -> KeepaliveAction {
        match self.deadline() {
            Some(deadline) if now >= deadline => {
                if self.ping_sent.is_some() {
                    KeepaliveAction::PeerGone
                } else {
                    self.ping_sent = Some(now);
                    KeepaliveAction::Ping
                }
            }
            _ => KeepaliveAction::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_when_quiet_and_gives_up_when_silent() {
        let t0 = Instant::now();
        let config = KeepaliveConfig {
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
        };
        let mut k = Keepalive::new(Some(config), t0);
        assert_eq!(k.deadline(), Some(t0 + Duration::from_secs(10)));
        assert_eq!(
            k.on_timeout(t0 + Duration::from_secs(9)),
            KeepaliveAction::Nothing
        );
        let t10 = t0 + Duration::from_secs(10);
        assert_eq!(k.on_timeout(t10), KeepaliveAction::Ping);
        assert_eq!(k.deadline(), Some(t10 + Duration::from_secs(5)));
        k.heard(t10 + Duration::from_secs(1));
        assert_eq!(k.deadline(), Some(t10 + Duration::from_secs(11)));
        let t21 = t10 + Duration::from_secs(11);
        assert_eq!(k.on_timeout(t21), KeepaliveAction::Ping);
        assert_eq!(
            k.on_timeout(t21 + Duration::from_secs(5)),
            KeepaliveAction::PeerGone
        );
    }

    #[test]
    fn disabled_keepalive_never_fires() {
        let t0 = Instant::now();
        let mut k = Keepalive::new(None, t0);
        assert_eq!(k.deadline(), None);
        assert_eq!(
            k.on_timeout(t0 + Duration::from_secs(3600)),
            KeepaliveAction::Nothing
        );
    }
}
