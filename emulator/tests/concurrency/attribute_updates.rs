//! Queue settings changed from many threads at once: SetQueueAttributes computes its settings outside the
//! queue's lock, and must not write them back over an AddPermission (or another SetQueueAttributes) that landed
//! meanwhile — every label and every attribute written concurrently survives.

use std::sync::Arc;

use sqskit_emulator::{Engine, EngineConfig, ManualClock};

const ROUNDS: usize = 600;

#[test]
fn concurrent_set_queue_attributes_never_loses_an_add_permission() {
    let engine = Engine::new(EngineConfig::default(), Arc::new(ManualClock::new()));
    engine.create_queue("shared", &[], &[]).unwrap();
    let url = engine.queue_url("http://localhost", "shared");

    let permissions = {
        let (engine, url) = (engine.clone(), url.clone());
        std::thread::spawn(move || {
            for i in 0..ROUNDS {
                engine
                    .add_permission(
                        &url,
                        &format!("label{i}"),
                        &["111122223333".to_owned()],
                        &["SendMessage".to_owned()],
                    )
                    .unwrap();
            }
        })
    };
    let setters: Vec<_> = ["VisibilityTimeout", "DelaySeconds"]
        .into_iter()
        .map(|name| {
            let (engine, url) = (engine.clone(), url.clone());
            std::thread::spawn(move || {
                for i in 0..ROUNDS {
                    engine.set_queue_attributes(&url, &[(name.to_owned(), (i % 60).to_string())]).unwrap();
                }
            })
        })
        .collect();
    permissions.join().unwrap();
    for setter in setters {
        setter.join().unwrap();
    }

    let attributes = engine.get_queue_attributes(&url, &["All".to_owned()]).unwrap();
    let get = |name: &str| attributes.iter().find(|(n, _)| n.as_str() == name).map(|(_, v)| v.clone()).unwrap();
    let policy: serde_json::Value = serde_json::from_str(&get("Policy")).unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), ROUNDS, "every AddPermission survives the concurrent SetQueueAttributes");
    let last = ((ROUNDS - 1) % 60).to_string();
    assert_eq!((get("VisibilityTimeout"), get("DelaySeconds")), (last.clone(), last));
    engine.shutdown();
}
