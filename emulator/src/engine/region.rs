//! Regions: which names are regions, the partition each belongs to, queue ARNs, and the region a regional SQS
//! host name (`sqs.<region>.amazonaws.com`, the legacy `<region>.queue.amazonaws.com`) names.
//!
//! One emulator serves every region, as the regional endpoints of AWS do for one account: each region is its own
//! namespace ("Every Amazon SQS endpoint is independent. For example, if two queues are named MyQueue and one has
//! the endpoint sqs.us-east-2.amazonaws.com while the other has the endpoint sqs.eu-west-2.amazonaws.com, the two
//! queues don't share any data with each other",
//! <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-making-api-requests-xml.html>).
//! Plain string rules only: where a request's region comes from is the HTTP layer's business.

/// The region of the emulator when none is configured.
pub const DEFAULT_REGION: &str = "us-east-1";

/// The longest region name accepted (a DNS label).
const MAX_REGION_LEN: usize = 63;

/// Whether `name` can be a region: 1 to 63 lowercase ASCII letters, digits and hyphens, starting with a letter
/// and not ending with a hyphen: a DNS label, as region names appear in endpoint host names. Any such name is a
/// region of the emulator (`eu-west-1`, `us-gov-west-1`, also a made-up `local`), so clients configured with
/// any region work; names that could never be a host label are refused.
pub fn is_valid_region(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REGION_LEN
        && bytes[0].is_ascii_lowercase()
        && bytes[bytes.len() - 1] != b'-'
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// Whether `label` has the shape of an AWS region name: a two-to-four-letter area, one or more words, and a
/// number (`us-east-1`, `us-gov-west-1`, `eu-isoe-west-1`, `ap-southeast-5`). Host names are read only for labels
/// of this shape, so `sqs.localhost` or `sqs.example.com` name no region.
fn looks_like_aws_region(label: &str) -> bool {
    let mut parts = label.split('-');
    let area = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    let Some((number, words)) = rest.split_last() else { return false };
    (2..=4).contains(&area.len())
        && area.bytes().all(|b| b.is_ascii_lowercase())
        && !words.is_empty()
        && words.iter().all(|word| !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase()))
        && (1..=2).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// The region a regional SQS host names, if it names one (`host` may carry a port):
/// - `sqs.<region>.<anything>` and `sqs-fips.<region>.<anything>`, the endpoints AWS lists
///   (<https://docs.aws.amazon.com/general/latest/gr/sqs-service.html>: `sqs.us-east-2.amazonaws.com`,
///   `sqs.us-east-2.api.aws`, `sqs-fips.us-east-2.amazonaws.com`), also under another domain
///   (`sqs.eu-west-1.localhost:9324`, LocalStack's `sqs.eu-west-1.localhost.localstack.cloud`) and behind a
///   VPC endpoint's prefix (`vpce-1a2b.sqs.us-east-1.vpce.amazonaws.com`);
/// - the legacy `<region>.queue.amazonaws.com`, and `queue.amazonaws.com` for us-east-1 (the developer guide of
///   API version 2009-02-01 lists `queue.amazonaws.com` as "the endpoint for the US-East (Northern Virginia)
///   Region" and `us-west-1.queue.amazonaws.com`, `eu-west-1.queue.amazonaws.com`,
///   `ap-southeast-1.queue.amazonaws.com` for the others; botocore still used `queue.amazonaws.com` for
///   us-east-1 until 2022, <https://github.com/boto/botocore/issues/2705>).
///
/// Anything else (`localhost:9324`, an IP address) names no region.
pub fn region_of_host(host: &str) -> Option<&str> {
    let host = host.rsplit_once(':').filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit())).map_or(host, |h| h.0);
    let host = host.trim_end_matches('.');
    if host.eq_ignore_ascii_case("queue.amazonaws.com") {
        return Some(DEFAULT_REGION);
    }
    let labels: Vec<&str> = host.split('.').collect();
    labels.windows(2).find_map(|pair| match pair {
        [service, region] if (*service == "sqs" || *service == "sqs-fips") && looks_like_aws_region(region) => {
            Some(*region)
        }
        [region, "queue"] if looks_like_aws_region(region) => Some(*region),
        _ => None,
    })
}

/// The partition of a region, the second field of its ARNs: `aws-cn` for the China regions, `aws-us-gov` for
/// GovCloud, `aws-iso`, `aws-iso-b`, `aws-iso-e`, `aws-iso-f` for the isolated regions, `aws` for every other
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html>).
pub fn partition(region: &str) -> &'static str {
    const PREFIXES: [(&str, &str); 6] = [
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-isof-", "aws-iso-f"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-iso-", "aws-iso"),
    ];
    PREFIXES.iter().find(|(prefix, _)| region.starts_with(prefix)).map_or("aws", |(_, partition)| partition)
}

/// The ARN of queue `name` of `account` in `region`: `arn:<partition>:sqs:<region>:<account>:<name>`
/// (<https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsqs.html#amazonsqs-resources-for-iam-policies>).
pub fn queue_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:{}:sqs:{region}:{account}:{name}", partition(region))
}

/// The region, account and name of a queue ARN; `None` for anything that is not an SQS queue ARN of the
/// region's own partition.
pub fn parse_queue_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let mut fields = arn.splitn(6, ':');
    let (scheme, partition_field, service) = (fields.next()?, fields.next()?, fields.next()?);
    let (region, account, name) = (fields.next()?, fields.next()?, fields.next()?);
    let well_formed = scheme == "arn"
        && service == "sqs"
        && partition(region) == partition_field
        && !account.is_empty()
        && !name.is_empty()
        && !name.contains(':');
    well_formed.then_some((region, account, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names_are_dns_labels() {
        for name in ["us-east-1", "eu-west-1", "us-gov-west-1", "cn-north-1", "local", "elasticmq"] {
            assert!(is_valid_region(name), "{name}");
        }
        for name in ["", "US-EAST-1", "eu_west_1", "-east", "east-", "1abc", "eu west", &"a".repeat(64)] {
            assert!(!is_valid_region(name), "{name:?}");
        }
    }

    #[test]
    fn regional_hosts_name_their_region() {
        let cases = [
            ("sqs.eu-west-1.amazonaws.com", Some("eu-west-1")),
            ("sqs.us-east-2.api.aws", Some("us-east-2")),
            ("sqs-fips.us-gov-west-1.amazonaws.com", Some("us-gov-west-1")),
            ("sqs.cn-north-1.amazonaws.com.cn", Some("cn-north-1")),
            ("sqs.eu-west-1.localhost:9324", Some("eu-west-1")),
            ("sqs.ap-southeast-2.localhost.localstack.cloud:4566", Some("ap-southeast-2")),
            ("vpce-1a2b3c.sqs.us-east-1.vpce.amazonaws.com", Some("us-east-1")),
            ("us-west-2.queue.amazonaws.com", Some("us-west-2")),
            ("queue.amazonaws.com", Some("us-east-1")),
            ("localhost:9324", None),
            ("127.0.0.1:9324", None),
            ("sqs.localhost:9324", None),
            ("sqs.example.com", None),
            ("sqs.amazonaws.com", None),
            ("[::1]:9324", None),
        ];
        for (host, region) in cases {
            assert_eq!(region_of_host(host), region, "{host}");
        }
    }

    #[test]
    fn arns_carry_the_partition_of_their_region() {
        assert_eq!(queue_arn("eu-west-1", "111122223333", "q"), "arn:aws:sqs:eu-west-1:111122223333:q");
        assert_eq!(queue_arn("cn-north-1", "111122223333", "q"), "arn:aws-cn:sqs:cn-north-1:111122223333:q");
        assert_eq!(queue_arn("us-gov-east-1", "1", "q"), "arn:aws-us-gov:sqs:us-gov-east-1:1:q");
        assert_eq!(parse_queue_arn("arn:aws:sqs:eu-west-1:111122223333:q"), Some(("eu-west-1", "111122223333", "q")));
        assert_eq!(parse_queue_arn("arn:aws-cn:sqs:cn-north-1:1:q.fifo"), Some(("cn-north-1", "1", "q.fifo")));
        for bad in ["arn:aws:sns:eu-west-1:1:q", "arn:aws-cn:sqs:eu-west-1:1:q", "arn:aws:sqs:eu-west-1:1", "q"] {
            assert_eq!(parse_queue_arn(bad), None, "{bad}");
        }
    }
}
