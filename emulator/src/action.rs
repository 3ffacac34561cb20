//! The [`Action`] enum: every SQS action the emulator serves, its AWS name and whether AWS acknowledges it only
//! once stored. It sits below the engine and the handlers so that fault injection, metrics and the protocol
//! layer can name actions without depending on the handlers (`crate::actions` re-exports it).

use std::fmt;
use std::str::FromStr;

use crate::error::{ErrorCode, SqsError};

macro_rules! actions {
    ($($name:ident),* $(,)?) => {
        /// Every SQS action.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $(
                #[doc = concat!("The `", stringify!($name), "` action.")]
                $name,
            )*
        }

        impl Action {
            /// All 23 actions.
            pub const ALL: &'static [Action] = &[$(Action::$name,)*];

            /// Whether AWS acknowledges the action only once its effect is stored: the emulator answers such
            /// actions after durable storage (when on) has committed them. Receives and visibility changes are
            /// not among them: losing one in a crash only makes a message visible earlier.
            pub const fn is_durable_write(self) -> bool {
                matches!(
                    self,
                    Action::CreateQueue
                        | Action::DeleteQueue
                        | Action::SetQueueAttributes
                        | Action::PurgeQueue
                        | Action::TagQueue
                        | Action::UntagQueue
                        | Action::AddPermission
                        | Action::RemovePermission
                        | Action::SendMessage
                        | Action::SendMessageBatch
                        | Action::DeleteMessage
                        | Action::DeleteMessageBatch
                        | Action::StartMessageMoveTask
                        | Action::CancelMessageMoveTask
                )
            }

            /// The action's name as AWS spells it.
            pub const fn as_str(self) -> &'static str {
                match self { $(Action::$name => stringify!($name),)* }
            }
        }

        impl FromStr for Action {
            type Err = SqsError;

            fn from_str(name: &str) -> Result<Self, SqsError> {
                match name {
                    $(stringify!($name) => Ok(Action::$name),)*
                    _ => Err(SqsError::new(
                        ErrorCode::UnknownOperationException,
                        format!("The action or operation requested is invalid: {name}"),
                    )),
                }
            }
        }
    };
}

actions![
    AddPermission,
    CancelMessageMoveTask,
    ChangeMessageVisibility,
    ChangeMessageVisibilityBatch,
    CreateQueue,
    DeleteMessage,
    DeleteMessageBatch,
    DeleteQueue,
    GetQueueAttributes,
    GetQueueUrl,
    ListDeadLetterSourceQueues,
    ListMessageMoveTasks,
    ListQueueTags,
    ListQueues,
    PurgeQueue,
    ReceiveMessage,
    RemovePermission,
    SendMessage,
    SendMessageBatch,
    SetQueueAttributes,
    StartMessageMoveTask,
    TagQueue,
    UntagQueue,
];

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip_and_there_are_23() {
        assert_eq!(Action::ALL.len(), 23);
        for action in Action::ALL {
            assert_eq!(action.as_str().parse::<Action>().expect("known"), *action);
        }
        assert_eq!("Bogus".parse::<Action>().unwrap_err().code, ErrorCode::UnknownOperationException);
    }
}
