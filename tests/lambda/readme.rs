//! README snippets for the Lambda adapter.
