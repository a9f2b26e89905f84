//! Deciding whether a record passes a filter (filter.md).

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

    /// Whether `passes` holds for the first element of each type, in one pass
    /// over the bytes with nothing copied (a client checks every record it is
    /// sent, so this runs once per Record message); stops at the first that
    /// fails.
    fn all_first_elements(&self, mut passes: impl FnMut(FilterElement<'_>) -> bool) -> bool {
        let mut seen: u16 = 0;
        for element in self.elements() {
            let ty = element.element_type().0;
            // The defined types are 0x01..=0x05 and 0x80..=0x85: one bit each.
            let bit = 1u16 << ((ty & 0x0f) | ((ty & 0x80) >> 4));
            if seen & bit != 0 {
                continue;
            }
            seen |= bit;
            if !passes(element) {
                return false;
            }
        }
        true
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

/// Whether the record carries any of `tags` (same type and same value).
fn carries_any(record: &Record, tags: &TagList<'_>) -> bool {
    record
        .tags()
        .any(|have: Tag<'_>| tags.iter().any(|want| want == have))
}
