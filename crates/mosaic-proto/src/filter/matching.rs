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

/// Whether the record carries any of `tags` (same type and same value).
fn carries_any(record: &Record, tags: &TagList<'_>) -> bool {
    record
        .tags()
        .any(|have: Tag<'_>| tags.iter().any(|want| want == have))
}
