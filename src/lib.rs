//! sqskit: typed, dependable Amazon SQS producers and consumers, testable offline.
