//! The store conformance suite and the model test, run against every backend and
//! every store wrapper.

use std::time::Duration;

use conformance::fixtures::Pod;
use conformance::model::{check_against_model, check_store_against_model, ops};
use conformance::store_conformance;
use proptest::prelude::*;
use store_core::{Cache, ExpirationCache, ShardedCache, StoreOptions, UndeltaStore};

store_conformance!(
    cache,
    store_core::Cache::<conformance::fixtures::Pod>::new()
);
store_conformance!(
    sharded,
    store_core::ShardedCache::<conformance::fixtures::Pod>::new()
);
// A transformer that leaves objects as they are must not change any behaviour.
store_conformance!(
    cache_with_transformer,
    store_core::Cache::<conformance::fixtures::Pod>::with_options(
        store_core::StoreOptions::new().with_transform(|pod| pod)
    )
    .unwrap()
);
store_conformance!(
    sharded_with_transformer,
    store_core::ShardedCache::<conformance::fixtures::Pod>::with_options(
        store_core::StoreOptions::new().with_transform(|pod| pod)
    )
    .unwrap()
);
store_conformance!(
    undelta,
    store_core::UndeltaStore::new(
        store_core::Cache::<conformance::fixtures::Pod>::new(),
        |_| {}
    )
);
// Entries that never expire within a test: the store then behaves as a plain one.
store_conformance!(
    expiration,
    store_core::ExpirationCache::<conformance::fixtures::Pod>::new(std::time::Duration::from_secs(
        3600
    )),
    store_only
);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn cache_matches_btreemap_model(ops in ops()) {
        check_against_model(Cache::<Pod>::new, &ops);
    }

    #[test]
    fn sharded_cache_matches_btreemap_model(ops in ops()) {
        check_against_model(ShardedCache::<Pod>::new, &ops);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn transformed_caches_match_btreemap_model(ops in ops()) {
        check_against_model(
            || Cache::<Pod>::with_options(StoreOptions::new().with_transform(|pod| pod)).unwrap(),
            &ops,
        );
        check_against_model(
            || ShardedCache::<Pod>::with_options(StoreOptions::new().with_transform(|pod| pod)).unwrap(),
            &ops,
        );
    }

    #[test]
    fn undelta_store_matches_btreemap_model(ops in ops()) {
        check_against_model(|| UndeltaStore::new(Cache::<Pod>::new(), |_| {}), &ops);
    }

    #[test]
    fn expiration_cache_matches_btreemap_model(ops in ops()) {
        check_store_against_model(
            || ExpirationCache::<Pod>::new(Duration::from_secs(3600)),
            &ops,
        );
    }
}
