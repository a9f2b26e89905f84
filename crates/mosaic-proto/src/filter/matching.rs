//! Deciding whether a record passes a filter (filter.md).

use super::{ElementType, Filter, FilterElement, TagList};
use crate::{Record, Tag, Timestamp};

/// Element types in the order [`Filter::matches`] checks them: cheap
/// comparisons first, tag scans last.
const CHECK_ORDER: [ElementType; 11] = [
    ElementType::SINCE,
    ElementType::UNTIL,
    ElementType::RECEIVED_SINCE,
    ElementType::RECEIVED_UNTIL,
    ElementType::KINDS,
    ElementType::AUTHOR_KEYS,
    ElementType::SIGNING_KEYS,
    ElementType::TIMESTAMPS,
    ElementType::EXCLUDE,
    ElementType::INCLUDED_TAGS,
    ElementType::EXCLUDED_TAGS,
];

impl Filter {
    /// Whether `record` passes every element a client can check: all but
    /// Received Since and Received Until, whose time only the server knows.
    pub fn matches_ignoring_received(&self, record: &Record) -> bool {
        self.first_elements()
            .iter()
            .flatten()
            .filter(|e| {
                !matches!(
                    e,
                    FilterElement::ReceivedSince(_) | FilterElement::ReceivedUntil(_)
                )
            })
            .all(|element| element_matches(element, record, Timestamp::ZERO))
    }

    /// The element of each type that counts (the first), in [`CHECK_ORDER`].
    fn first_elements(&self) -> [Option<FilterElement<'_>>; 11] {
        let mut firsts: [Option<FilterElement<'_>>; 11] = [None; 11];
        for element in self.elements() {
            let slot = CHECK_ORDER
                .iter()
                .position(|t| *t == element.element_type());
            if let Some(slot) = slot {
                firsts[slot].get_or_insert(element);
            }
        }
        firsts
    }

    /// Whether `record` passes every element of the filter, given the time the
    /// server received it (for Received Since / Received Until).
    ///
    /// Only the first element of each type counts (filter.md: later ones MUST be
    /// ignored). A list element with no entries matches no record (an empty
    /// exclusion excludes none). A filter with no elements matches every record.
    pub fn matches(&self, record: &Record, received_at: Timestamp) -> bool {
        self.first_elements()
            .iter()
            .flatten()
            .all(|element| element_matches(element, record, received_at))
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
