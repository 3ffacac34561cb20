//! `backend_suite!`: one test per scenario per backend row, shared by the conformance and consumer suites.
//!
//! ```text
//! backend_suite! {
//!     test: #[tokio::test],
//!     rows: { embedded => crate::support::TestContext::embedded, … },
//!     scenarios: { queues::queue_lifecycle_create_get_set_list_purge_delete, … },
//! }
//! ```
//!
//! expands to one module per row (`embedded::…`), holding one test per scenario under the given test
//! attribute. Each test builds its row's context, calls `crate::scenarios::<module>::<scenario>(&context)` and
//! then `context.finish()`, so a failure names both the scenario and the backend.

/// Stamps out one test per scenario per row; see the module documentation.
macro_rules! backend_suite {
    (test: #[$test:meta], rows: { $($row:ident => $context:path),* $(,)? }, scenarios: $scenarios:tt $(,)?) => {
        $( backend_suite!(@row [$test] $row, $context, $scenarios); )*
    };
    (@row [$test:meta] $row:ident, $context:path, { $($module:ident :: $scenario:ident),* $(,)? }) => {
        mod $row {
            $(
                #[$test]
                async fn $scenario() {
                    let context = $context().await;
                    crate::scenarios::$module::$scenario(&context).await;
                    context.finish().await;
                }
            )*
        }
    };
}
