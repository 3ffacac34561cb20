//! Paging of name listings (ListQueues, ListDeadLetterSourceQueues): pages of up to 1,000 names and the
//! opaque tokens that continue them.

use crate::error::SqsError;

const MAX_LIST_RESULTS: i64 = 1000;

/// A page of queue names from [`Engine::list_queues`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueListing {
    /// The account owning the listed queues.
    pub account: String,
    /// Queue names, in name order.
    pub names: Vec<String>,
    /// Token for the next page, when there is one.
    pub next_token: Option<String>,
}

/// One page of names (given in name order): up to `max_results` (1..=1000) after the token's position, with
/// a token for the next page when more remain; without `max_results`, up to 1,000 and never a token.
pub(super) fn page(
    names: impl Iterator<Item = String>,
    max_results: Option<i64>,
    next_token: Option<&str>,
) -> Result<QueueListing, SqsError> {
    if let Some(max) = max_results {
        if !(1..=MAX_LIST_RESULTS).contains(&max) {
            return Err(SqsError::out_of_range("MaxResults", max, 1, MAX_LIST_RESULTS));
        }
    }
    let after = next_token.filter(|token| !token.is_empty()).map(decode_list_token).transpose()?;
    let limit = max_results.unwrap_or(MAX_LIST_RESULTS) as usize;
    let mut remaining = names.filter(|name| after.as_deref().is_none_or(|after| name.as_str() > after));
    let page: Vec<String> = remaining.by_ref().take(limit).collect();
    let more = remaining.next().is_some();
    let next_token = if more && max_results.is_some() { page.last().map(|name| encode_list_token(name)) } else { None };
    Ok(QueueListing { account: String::new(), names: page, next_token })
}

fn encode_list_token(last_name: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last_name)
}

fn decode_list_token(token: &str) -> Result<String, SqsError> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| SqsError::invalid_parameter("Invalid NextToken value."))
}
