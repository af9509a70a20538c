//! The store conformance suite and the model test, run against every backend.

use conformance::fixtures::Pod;
use conformance::model::{check_against_model, ops};
use conformance::store_conformance;
use proptest::prelude::*;
use store_core::{Cache, ShardedCache};

store_conformance!(
    cache,
    store_core::Cache::<conformance::fixtures::Pod>::new()
);
store_conformance!(
    sharded,
    store_core::ShardedCache::<conformance::fixtures::Pod>::new()
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
