//! Shared test support for the workspace integration tests.
//!
//! [`store_conformance!`] expands to the one store conformance suite, run against
//! every backend; [`queue_conformance!`] runs the cases every queue shares
//! ([`queue_cases`]) against each queue; [`model`] holds the proptest model test
//! against a `BTreeMap`.
//! `etcd_harness` (feature `etcd`) runs a real etcd on loopback for the etcd tests.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "etcd")]
pub mod etcd_harness;
pub mod fixtures;
pub mod model;
pub mod queue_cases;
pub mod scripted;
pub mod store_cases;

/// Expands to a module of `#[test]`s running every case of [`store_cases`] against
/// the backend that `$make` (an expression giving a fresh, empty store of
/// [`fixtures::Pod`]s) builds. With `store_only`, only the content cases run (for a
/// [`Store`](store_core::Store) that is no [`Indexer`](store_core::Indexer)).
#[macro_export]
macro_rules! store_conformance {
    ($module:ident, $make:expr) => {
        mod $module {
            use $crate::store_cases as cases;

            $crate::store_conformance!(@content $make);
            $crate::store_conformance!(@cases $make;
                namespace_index_exists_for_object_name_keys,
                single_valued_index_follows_add_update_delete,
                multi_valued_index_follows_value_changes,
                unknown_index_is_an_error_unknown_value_is_empty,
                index_keys_are_sorted_and_values_distinct,
                matching_finds_objects_sharing_any_value,
                added_index_backfills_existing_objects,
                duplicate_index_name_is_an_error,
                panicking_index_function_leaves_store_unchanged,
                panicking_old_value_recompute_still_cleans_the_index,
                replace_rebuilds_indexes,
                key_derived_index_is_not_recomputed_on_update,
                apply_batch_skips_a_write_whose_index_panics,
                index_queries_hand_out_the_current_object,
                replace_with_duplicate_keys_indexes_the_last,
                replace_with_the_stored_objects_keeps_the_indexes,
            );
        }
    };
    ($module:ident, $make:expr, store_only) => {
        mod $module {
            use $crate::store_cases as cases;

            $crate::store_conformance!(@content $make);
        }
    };
    (@content $make:expr) => {
        $crate::store_conformance!(@cases $make;
            add_then_get_hands_out_the_same_arc,
            update_replaces_and_returns_the_previous_object,
            delete_of_missing_key_is_a_noop,
            delete_removes_and_returns_the_object,
            borrowed_key_finds_the_entry,
            list_and_list_keys_show_exactly_the_content,
            clones_share_the_same_data,
            replace_keeps_exactly_the_items_and_reports_removed,
            replace_with_duplicate_keys_keeps_the_last,
            replace_records_the_resource_version,
            resync_of_a_plain_store_changes_nothing,
            apply_batch_applies_in_order_and_answers_each_write,
            retain_listed_ends_an_in_place_relist,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                cases::$case(|| $make);
            }
        )*
    };
}
