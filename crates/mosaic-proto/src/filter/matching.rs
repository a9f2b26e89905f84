//! Deciding whether a record passes a filter (filter.md).

use std::cmp::Ordering;

use super::{Filter, FilterElement, TagList};
use crate::{Record, Tag, Timestamp};

impl Filter {
    /// Whether `record` passes every element a client can check: all but
    /// Received Since and Received Until, whose time only the server knows.
    pub fn matches_ignoring_received(&self, record: &Record) -> bool {
        self.all_first_elements(|element| match element {
            FilterElement::ReceivedSince(_) | FilterElement::ReceivedUntil(_) => true,
            element => element_matches(&element, record, Timestamp::ZERO),
        })
    }

    /// Whether `record` passes every element of the filter, given the time the
    /// server received it (for Received Since / Received Until).
    ///
    /// Only the first element of each type counts (filter.md: later ones MUST be
    /// ignored). A list element with no entries matches no record (an empty
    /// exclusion excludes none). A filter with no elements matches every record.
    pub fn matches(&self, record: &Record, received_at: Timestamp) -> bool {
        self.all_first_elements(|element| element_matches(&element, record, received_at))
    }

    /// Whether `passes` holds for the first element of each type (found
    /// when the filter was read: a client checks every record it is sent,
    /// and a server every new record against each subscription, so this
    /// goes straight to them); stops at the first that fails.
    fn all_first_elements(&self, passes: impl FnMut(FilterElement<'_>) -> bool) -> bool {
        self.first_elements().all(passes)
    }
}

/// Whether `record` passes one element.
fn element_matches(element: &FilterElement<'_>, record: &Record, received_at: Timestamp) -> bool {
    match element {
        FilterElement::AuthorKeys(keys) => keys.contains(record.author_key()),
        FilterElement::SigningKeys(keys) => keys.contains(record.signing_key()),
        FilterElement::Kinds(kinds) => kinds.contains(record.kind()),
        FilterElement::Timestamps(timestamps) => timestamps.contains(record.timestamp()),
        FilterElement::IncludedTags(tags) => carries_any(record, tags),
        FilterElement::Since(ts) => record.timestamp() >= *ts,
        FilterElement::Until(ts) => record.timestamp() <= *ts,
        FilterElement::ReceivedSince(ts) => received_at >= *ts,
        FilterElement::ReceivedUntil(ts) => received_at <= *ts,
        FilterElement::Exclude(prefixes) => !prefixes.contains(&record.id_prefix()),
        FilterElement::ExcludedTags(tags) => !carries_any(record, tags),
    }
}

/// Record tags times filter tags up to which [`carries_any`] compares every
/// pair. Above it the filter's tags are sorted once and each record tag is
/// looked up: a peer chooses both lists (a record may carry 21,845 tags, a
/// filter element 677), and comparing every pair of those took tens
/// of milliseconds per match on a server matching each new record against
/// each subscription.
const ALL_PAIRS_MAX: usize = 1024;

/// Whether the record carries any of `tags` (same type and same value).
fn carries_any(record: &Record, tags: &TagList<'_>) -> bool {
    carries_any_by(record.tags(), tags.iter(), Ord::cmp)
}

/// [`carries_any`] over tag lists, comparing tags with `cmp` (a counting
/// one in the tests); at most about `(have + wanted) * log2(wanted)`
/// comparisons beyond [`ALL_PAIRS_MAX`].
fn carries_any_by<'a>(
    have: impl Iterator<Item = Tag<'a>> + Clone,
    wanted: impl Iterator<Item = Tag<'a>> + Clone,
    mut cmp: impl FnMut(&TagKey<'a>, &TagKey<'a>) -> Ordering,
) -> bool {
    let wanted_count = wanted.clone().count();
    let have_count = have
        .clone()
        .take(ALL_PAIRS_MAX / wanted_count.max(1) + 1)
        .count();
    if have_count.saturating_mul(wanted_count) <= ALL_PAIRS_MAX {
        return have.into_iter().any(|h| {
            wanted
                .clone()
                .any(|w| cmp(&key(&w), &key(&h)) == Ordering::Equal)
        });
    }
    let mut sorted: Vec<TagKey<'a>> = wanted.map(|w| key(&w)).collect();
    sorted.sort_unstable_by(&mut cmp);
    have.into_iter()
        .any(|h| sorted.binary_search_by(|w| cmp(w, &key(&h))).is_ok())
}

/// A tag as its type and value, which order it.
type TagKey<'a> = (u16, &'a [u8]);

fn key<'a>(tag: &Tag<'a>) -> TagKey<'a> {
    (tag.tag_type(), tag.value())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::test_support::record_with;
    use crate::{FilterBuilder, Tag};

    /// A tag section of `count` distinct empty tags of types `first..`.
    fn section(first: u16, count: u16) -> Vec<u8> {
        (first..first + count)
            .flat_map(|ty| {
                let [lo, hi] = ty.to_le_bytes();
                [lo, hi, 0]
            })
            .collect()
    }

    fn tags(section: &[u8]) -> crate::tag::Tags<'_> {
        crate::tag::Tags::new(section)
    }

    /// Comparisons made deciding whether `have` carries any of `wanted`.
    fn comparisons(have: &[u8], wanted: &[u8]) -> (bool, usize) {
        let mut count = 0;
        let found = carries_any_by(tags(have), tags(wanted), |a, b| {
            count += 1;
            a.cmp(b)
        });
        (found, count)
    }

    #[test]
    fn a_record_full_of_tags_against_a_filter_full_of_tags_is_not_quadratic() {
        // The most tags a record can carry (LenT up to 65,535, 3 bytes each)
        // against the most an element can (677), none shared: every
        // pair would be 14.8 million comparisons.
        let have = section(1, 21_845);
        let wanted = section(30_000, 677);
        let (found, count) = comparisons(&have, &wanted);
        assert!(!found);
        assert!(count < 300_000, "{count} comparisons");
        // The last record tag is the one wanted: still found.
        let wanted = section(21_845, 677);
        assert!(comparisons(&have, &wanted).0);
    }

    #[test]
    fn short_lists_compare_every_pair_without_sorting() {
        // Tags with values, so that each key points into its own list.
        let encode = |types: std::ops::Range<u16>| -> Vec<u8> {
            let mut out = Vec::new();
            for ty in types {
                Tag::new(ty, b"v").expect("tag").encode(&mut out);
            }
            out
        };
        let (have, wanted) = (encode(1..4), encode(10..14));
        let from_wanted = |key: &TagKey<'_>| wanted.as_ptr_range().contains(&key.1.as_ptr());
        let mut pairs = 0;
        let found = carries_any_by(tags(&have), tags(&wanted), |a, b| {
            // Sorting would compare two wanted tags.
            assert!(
                from_wanted(a) && !from_wanted(b),
                "a wanted tag against a record tag"
            );
            pairs += 1;
            a.cmp(b)
        });
        assert_eq!((found, pairs), (false, 12));
    }

    #[test]
    fn included_and_excluded_tags_find_one_tag_among_many() {
        let values: Vec<[u8; 2]> = (0..400u16).map(u16::to_be_bytes).collect();
        let filter_tags: Vec<Tag<'_>> = values
            .iter()
            .map(|v| Tag::new(7, v).expect("tag"))
            .collect();
        let hit = [0x01, 0x2b]; // 299
        let miss = [0x0f, 0xff];
        let record_tags = |last: &[u8; 2]| -> Vec<[u8; 2]> {
            (0..400u16)
                .map(|n| (n + 1000).to_be_bytes())
                .chain([*last])
                .collect()
        };
        for (last, carried) in [(hit, true), (miss, false)] {
            let values = record_tags(&last);
            let tags: Vec<Tag<'_>> = values
                .iter()
                .map(|v| Tag::new(7, v).expect("tag"))
                .collect();
            let record = record_with(&tags, b"", 0x1_0000);
            let included = FilterBuilder::new()
                .included_tags(&filter_tags)
                .build()
                .expect("filter");
            let excluded = FilterBuilder::new()
                .excluded_tags(&filter_tags)
                .build()
                .expect("filter");
            assert_eq!(included.matches_ignoring_received(&record), carried);
            assert_eq!(excluded.matches_ignoring_received(&record), !carried);
        }
    }

    proptest! {
        /// Sorted lookup and every-pair comparison agree, on both sides of
        /// the threshold, for tags drawn from a small set so that some match.
        #[test]
        fn carries_any_agrees_with_comparing_every_pair(
            have in proptest::collection::vec((1u16..5, proptest::collection::vec(0u8..3, 0..3)), 0..300),
            wanted in proptest::collection::vec((1u16..5, proptest::collection::vec(0u8..3, 0..3)), 0..40),
        ) {
            let encode = |list: &[(u16, Vec<u8>)]| -> Vec<u8> {
                let mut out = Vec::new();
                for (ty, value) in list {
                    Tag::new(*ty, value).expect("tag").encode(&mut out);
                }
                out
            };
            let (have, wanted) = (encode(&have), encode(&wanted));
            let every_pair = tags(&have).any(|h| tags(&wanted).any(|w| w == h));
            prop_assert_eq!(comparisons(&have, &wanted).0, every_pair);
        }
    }
}
