use super::*;

// --- writes and reads ----------------------------------------------------------

#[tokio::test]
async fn empty_server_is_at_version_one_and_writes_count_up_from_two() {
    let server = server();
    assert_eq!(server.resource_version(), "1");
    assert!(server.is_empty());
    assert_eq!(server.create(pod("a", 1)).unwrap(), "2");
    assert_eq!(server.apply(pod("b", 1)), "3");
    assert_eq!(server.update(pod("a", 2)).unwrap(), "4");
    assert_eq!(server.delete("b").unwrap(), "5");
    assert_eq!(server.resource_version(), "5");
    assert_eq!(list(&server, "").await.unwrap().resource_version, "5");
}

#[tokio::test]
async fn create_of_a_taken_key_is_already_exists_and_writes_nothing() {
    let server = server();
    server.create(pod("a", 1)).unwrap();
    let status = server.create(pod("a", 2)).unwrap_err();
    assert!(status.is_already_exists(), "{status}");
    assert_eq!(status.code, 409);
    assert!(status.message.contains("\"a\""), "{}", status.message);
    assert_eq!(server.resource_version(), "2");
    assert_eq!(server.get("a").unwrap().generation, 1);
}

#[tokio::test]
async fn update_or_delete_of_a_missing_key_is_not_found_and_writes_nothing() {
    let server = server();
    let status = server.update(pod("a", 1)).unwrap_err();
    assert!(status.is_not_found(), "{status}");
    assert_eq!(status.code, 404);
    let status = server.delete("a").unwrap_err();
    assert!(status.is_not_found(), "{status}");
    assert!(status.message.contains("\"a\""), "{}", status.message);
    assert_eq!(server.resource_version(), "1");
    assert!(server.is_empty());
}

#[tokio::test]
async fn reads_see_the_latest_writes_sorted_by_key() {
    let server = server();
    for name in ["c", "a", "b"] {
        server.create(pod(name, 1)).unwrap();
    }
    server.apply(pod("a", 2));
    server.delete("c").unwrap();
    assert_eq!(server.len(), 2);
    assert!(!server.is_empty());
    assert_eq!(server.get("a").map(|pod| pod.generation), Some(2));
    assert_eq!(
        server.get(&"b".to_owned()).map(|pod| pod.generation),
        Some(1)
    );
    assert!(server.get("c").is_none());
    assert_eq!(names(&server.snapshot()), ["a", "b"]);
}

#[tokio::test]
async fn writes_accept_an_object_or_an_arc() {
    let server = server();
    let shared = Arc::new(pod("a", 1));
    server.create(Arc::clone(&shared)).unwrap();
    assert!(Arc::ptr_eq(&server.get("a").unwrap(), &shared));
}

#[tokio::test]
async fn clones_share_one_server() {
    let server = server();
    let other = server.clone();
    other.create(pod("a", 1)).unwrap();
    assert_eq!(server.len(), 1);
    assert_eq!(server.resource_version(), other.resource_version());
    assert!(format!("{server:?}").contains("resource_version: 2"));
}

#[tokio::test]
async fn random_writes_match_a_model_and_a_watch_from_the_start_replays_them() {
    let server = server();
    let mut model: BTreeMap<String, u64> = BTreeMap::new();
    let mut watch = watch(&server, "1").await;
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut random = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let mut expected = Vec::new();
    for generation in 0..500 {
        let name = format!("pod-{}", random(20));
        let outcome = match random(4) {
            0 => server
                .create(pod(&name, generation))
                .map(|rv| ("ADDED", rv)),
            1 => server
                .update(pod(&name, generation))
                .map(|rv| ("MODIFIED", rv)),
            2 => server.delete(name.as_str()).map(|rv| ("DELETED", rv)),
            _ => {
                let kind = if model.contains_key(&name) {
                    "MODIFIED"
                } else {
                    "ADDED"
                };
                Ok((kind, server.apply(pod(&name, generation))))
            }
        };
        let exists = model.contains_key(&name);
        match outcome {
            Ok((kind, rv)) => {
                assert!(
                    kind == "ADDED" && !exists || kind != "ADDED" && exists,
                    "{kind} {name}"
                );
                if kind == "DELETED" {
                    model.remove(&name);
                } else {
                    model.insert(name.clone(), generation);
                }
                expected.push(format!("{kind} {name}@{rv}"));
            }
            Err(status) => {
                assert!(status.is_already_exists() && exists || status.is_not_found() && !exists)
            }
        }
    }
    let listed = list(&server, "").await.unwrap().items;
    let listed: BTreeMap<String, u64> = listed
        .iter()
        .map(|pod| (pod.name.clone(), pod.generation))
        .collect();
    assert_eq!(listed, model);
    let mut seen = Vec::new();
    for _ in 0..expected.len() {
        seen.push(next(&mut watch).await.unwrap());
    }
    assert_eq!(seen, expected);
}
