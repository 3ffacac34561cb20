//! The emulator's error table agrees with the Smithy model the AWS SDKs are generated from: every modeled SQS
//! error has a row with the model's legacy Query code and HTTP status, and every `com.amazonaws.sqs` row is a
//! modeled error.

use sqskit_emulator::ErrorCode;

fn model() -> serde_json::Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/models/smithy-sqs-2012-11-05.json"))
        .expect("the Smithy model is in emulator/models");
    serde_json::from_str(&text).expect("the model is JSON")
}

#[test]
fn every_modeled_error_has_the_models_code_and_status() {
    let model = model();
    let shapes = model["shapes"].as_object().expect("shapes");
    let mut modeled = 0;
    for (id, shape) in shapes {
        let traits = &shape["traits"];
        if traits.get("smithy.api#error").is_none() {
            continue;
        }
        modeled += 1;
        let name = id.rsplit('#').next().unwrap();
        let query = &traits["aws.protocols#awsQueryError"];
        let expected_code = query["code"].as_str().unwrap_or(name);
        let expected_status = query["httpResponseCode"].as_u64().unwrap_or(400);

        let row = ErrorCode::ALL
            .iter()
            .find(|code| code.shape_name() == name)
            .unwrap_or_else(|| panic!("no row for modeled error {name}"));

        assert_eq!(row.namespace(), "com.amazonaws.sqs", "{name}");
        assert_eq!(row.query_code(), expected_code, "{name}");
        assert_eq!(u64::from(row.http_status()), expected_status, "{name}");
    }
    assert_eq!(modeled, 28, "the model's error count changed: review the table");
}

#[test]
fn every_sqs_namespaced_row_is_a_modeled_error() {
    let model = model();
    for code in ErrorCode::ALL.iter().filter(|code| code.namespace() == "com.amazonaws.sqs") {
        let shape = &model["shapes"][format!("com.amazonaws.sqs#{}", code.shape_name())];
        assert!(shape["traits"].get("smithy.api#error").is_some(), "{code:?} is not a modeled error");
    }
}
