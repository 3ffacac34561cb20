//! Browser sessions of the dashboard: a random id in an `HttpOnly`, `SameSite=Strict` cookie, and per session
//! the token every form must echo (cross-site request forgery protection) and whether the operator signed in
//! with the admin token.
//!
//! A forged cross-site POST fails twice over: the browser does not send a `SameSite=Strict` cookie with it,
//! and the forger cannot read the page that holds the session's form token.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::HeaderMap;
use axum::http::header;

/// The session cookie's name.
pub const COOKIE: &str = "sqskit_session";
/// The form field carrying the session's token.
pub const CSRF_FIELD: &str = "csrf";
/// Sessions kept at once; beyond it the oldest are forgotten (their browsers get a new one).
const MAX_SESSIONS: usize = 10_000;

/// One browser session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The token every form of this session carries.
    pub csrf: String,
    /// Whether the operator signed in with the admin token.
    pub admin: bool,
}

/// Every live session, by id.
#[derive(Debug, Default)]
pub struct Sessions {
    inner: Mutex<SessionMap>,
}

#[derive(Debug, Default)]
struct SessionMap {
    by_id: HashMap<String, (u64, Session)>,
    next: u64,
}

/// A fresh unguessable token: 244 random bits, hex.
fn random_token() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

impl Sessions {
    /// The session with this id, if it is live.
    pub fn get(&self, id: &str) -> Option<Session> {
        let inner = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        inner.by_id.get(id).map(|(_, session)| session.clone())
    }

    /// Opens a session and returns its id.
    pub fn create(&self, admin: bool) -> (String, Session) {
        let id = random_token();
        let session = Session { csrf: random_token(), admin };
        let mut inner = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if inner.by_id.len() >= MAX_SESSIONS {
            let oldest = inner.by_id.iter().min_by_key(|(_, (order, _))| *order).map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                inner.by_id.remove(&oldest);
            }
        }
        inner.next += 1;
        let order = inner.next;
        inner.by_id.insert(id.clone(), (order, session.clone()));
        (id, session)
    }

    /// Ends a session.
    pub fn remove(&self, id: &str) {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner).by_id.remove(id);
    }
}

/// The `Set-Cookie` value for a session id.
pub fn set_cookie(id: &str) -> String {
    format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict")
}

/// The `Set-Cookie` value that ends the session cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The session id a request's `Cookie` headers carry.
pub fn session_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// Compares two tokens in constant time.
pub fn same_token(given: &str, expected: &str) -> bool {
    given.len() == expected.len() && given.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_found_by_their_cookie() {
        let sessions = Sessions::default();
        let (id, session) = sessions.create(true);
        assert_eq!(sessions.get(&id), Some(session.clone()));
        assert_eq!(id.len(), 64);
        assert_ne!(id, session.csrf);
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, format!("other=1; {COOKIE}={id}").parse().unwrap());
        assert_eq!(session_id(&headers), Some(id.as_str()));
        assert!(same_token(&session.csrf, &session.csrf.clone()) && !same_token(&session.csrf, "x"));
        sessions.remove(&id);
        assert_eq!(sessions.get(&id), None);
        assert!(set_cookie(&id).contains("SameSite=Strict") && set_cookie(&id).contains("HttpOnly"));
    }
}
