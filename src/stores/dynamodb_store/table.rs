//! Creating the store's table: for tests and first runs (production tables usually come from infrastructure
//! code, with the same layout).

use std::time::Duration;

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TimeToLiveSpecification,
    TimeToLiveStatus,
};

use super::{DynamoDbIdempotencyStore, TTL_ATTRIBUTE};

/// How long [`DynamoDbIdempotencyStore::create_table`] waits for a new table to become `ACTIVE`.
const ACTIVE_WAIT: Duration = Duration::from_secs(120);

/// Why [`DynamoDbIdempotencyStore::create_table`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DynamoDbTableError {
    /// `CreateTable` (or the `DescribeTable` of an existing table) failed.
    #[error("could not create DynamoDB table {table}: {reason}")]
    Create {
        /// The table.
        table: String,
        /// What DynamoDB answered.
        reason: String,
    },
    /// The table did not become `ACTIVE` in time.
    #[error("DynamoDB table {table} did not become ACTIVE within {waited:?}: {reason}")]
    NotActive {
        /// The table.
        table: String,
        /// How long it was waited for.
        waited: Duration,
        /// What the waiter reported.
        reason: String,
    },
    /// The table exists with another partition key than the store's.
    #[error("DynamoDB table {table} has partition key {found:?}, the store expects a string key {expected:?}")]
    WrongKey {
        /// The table.
        table: String,
        /// The store's key attribute.
        expected: String,
        /// The table's partition key (with its type).
        found: String,
    },
    /// Time to Live could not be read or enabled.
    #[error("could not enable Time to Live on {attribute} for DynamoDB table {table}: {reason}")]
    TimeToLive {
        /// The table.
        table: String,
        /// The TTL attribute.
        attribute: String,
        /// What DynamoDB answered.
        reason: String,
    },
}

impl DynamoDbIdempotencyStore {
    /// Creates the store's table if it does not exist (on-demand capacity, a string partition key named as the
    /// store's key attribute), waits until it is `ACTIVE`, and enables Time to Live on `expires_at` unless it is
    /// already on. An existing table is checked for the right partition key. Safe to call on every start.
    ///
    /// Needs `dynamodb:CreateTable`, `dynamodb:DescribeTable`, `dynamodb:DescribeTimeToLive` and
    /// `dynamodb:UpdateTimeToLive` on the table.
    ///
    /// # Errors
    /// [`DynamoDbTableError`] when a request fails, the table does not become active within 2 minutes, or it
    /// exists with another partition key.
    pub async fn create_table(&self) -> Result<(), DynamoDbTableError> {
        let table = self.table.clone();
        let create_error = |reason: String| DynamoDbTableError::Create { table: table.clone(), reason };
        let attribute = AttributeDefinition::builder()
            .attribute_name(&self.key_attribute)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|error| create_error(error.to_string()))?;
        let key = KeySchemaElement::builder()
            .attribute_name(&self.key_attribute)
            .key_type(KeyType::Hash)
            .build()
            .map_err(|error| create_error(error.to_string()))?;
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .attribute_definitions(attribute)
            .key_schema(key)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(error) if error.code() == Some("ResourceInUseException") => {}
            Err(error) => return Err(create_error(DisplayErrorContext(&error).to_string())),
        }
        let described =
            self.client.wait_until_table_exists().table_name(&self.table).wait(ACTIVE_WAIT).await.map_err(|error| {
                DynamoDbTableError::NotActive {
                    table: table.clone(),
                    waited: ACTIVE_WAIT,
                    reason: DisplayErrorContext(&error).to_string(),
                }
            })?;
        self.check_key(described.into_result().ok().and_then(|output| output.table))?;
        self.enable_ttl().await
    }

    fn check_key(
        &self,
        description: Option<aws_sdk_dynamodb::types::TableDescription>,
    ) -> Result<(), DynamoDbTableError> {
        let Some(description) = description else { return Ok(()) };
        let partition = description.key_schema().iter().find(|element| element.key_type() == &KeyType::Hash);
        let kind = description
            .attribute_definitions()
            .iter()
            .find(|definition| Some(definition.attribute_name()) == partition.map(KeySchemaElement::attribute_name))
            .map(|definition| definition.attribute_type().as_str().to_owned());
        match (partition, kind) {
            (Some(element), Some(kind)) if element.attribute_name() == self.key_attribute && kind == "S" => Ok(()),
            (partition, kind) => Err(DynamoDbTableError::WrongKey {
                table: self.table.clone(),
                expected: self.key_attribute.clone(),
                found: format!(
                    "{} ({})",
                    partition.map_or("none", KeySchemaElement::attribute_name),
                    kind.as_deref().unwrap_or("unknown type")
                ),
            }),
        }
    }

    async fn enable_ttl(&self) -> Result<(), DynamoDbTableError> {
        let ttl_error = |reason: String| DynamoDbTableError::TimeToLive {
            table: self.table.clone(),
            attribute: TTL_ATTRIBUTE.to_owned(),
            reason,
        };
        let current = self
            .client
            .describe_time_to_live()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|error| ttl_error(DisplayErrorContext(&error).to_string()))?;
        let on = current.time_to_live_description().is_some_and(|ttl| {
            ttl.attribute_name() == Some(TTL_ATTRIBUTE)
                && matches!(ttl.time_to_live_status(), Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling))
        });
        if on {
            return Ok(());
        }
        let specification = TimeToLiveSpecification::builder()
            .attribute_name(TTL_ATTRIBUTE)
            .enabled(true)
            .build()
            .map_err(|error| ttl_error(error.to_string()))?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(specification)
            .send()
            .await
            .map_err(|error| ttl_error(DisplayErrorContext(&error).to_string()))?;
        Ok(())
    }
}
