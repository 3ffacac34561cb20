"""boto3 against the sqskit emulator in `--auth sigv4` mode, over the protocol the installed botocore speaks.

Run by tests/clients/run.sh (suites boto3-json-sigv4 and boto3-query-sigv4) against a second emulator started
with `--auth sigv4 --config <file>` whose [[credentials]] hold SIGV4_ACCESS_KEY_ID / SIGV4_SECRET_ACCESS_KEY.

Environment:
  SQS_ENDPOINT             the sigv4 emulator's endpoint (required)
  EXPECT_PROTOCOL          "json" or "query" (the protocol botocore's SQS model must declare)
  SIGV4_ACCESS_KEY_ID      a key id known to the emulator
  SIGV4_SECRET_ACCESS_KEY  its secret
  SIGV4_ACCOUNT_ID         its account (queue URLs must name it)
"""

import datetime
import os
import sys
import unittest
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from unittest import mock

import boto3
import botocore
import botocore.auth
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ.get("SQS_ENDPOINT", "")
EXPECT_PROTOCOL = os.environ.get("EXPECT_PROTOCOL", "")
KEY_ID = os.environ.get("SIGV4_ACCESS_KEY_ID", "")
SECRET = os.environ.get("SIGV4_SECRET_ACCESS_KEY", "")
ACCOUNT = os.environ.get("SIGV4_ACCOUNT_ID", "")
RUN_ID = uuid.uuid4().hex[:8]
NS = "{http://queue.amazonaws.com/doc/2012-11-05/}"


def make_client(key_id=KEY_ID, secret=SECRET):
    return boto3.session.Session().client(
        "sqs",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
    )


def fetch(url):
    """GETs url; returns (status, body text) for 2xx and for error statuses alike."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")


class SigV4TestCase(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.client = make_client()
        protocol = cls.client.meta.service_model.protocol
        assert protocol == EXPECT_PROTOCOL, f"botocore speaks {protocol!r} to SQS, expected {EXPECT_PROTOCOL!r}"

    def create(self, label):
        url = self.client.create_queue(QueueName=f"{EXPECT_PROTOCOL}-sigv4-{label}-{RUN_ID}")["QueueUrl"]
        self.addCleanup(self._delete_quietly, url)
        return url

    def _delete_quietly(self, url):
        try:
            self.client.delete_queue(QueueUrl=url)
        except ClientError:
            pass

    def assertRefused(self, code, status, client):
        with self.assertRaises(ClientError) as ctx:
            client.list_queues()
        response = ctx.exception.response
        self.assertEqual(response["Error"].get("Code"), code, f"error response: {response}")
        self.assertEqual(response["ResponseMetadata"]["HTTPStatusCode"], status, f"error response: {response}")

    # ------------------------------------------------------------------------------------------- signed calls

    def test_correct_keys_create_send_receive_delete(self):
        url = self.create("roundtrip")
        self.assertIn(f"/{ACCOUNT}/", url, "the queue lives in the key's account")
        body = "signed <body> & 'quotes' \u00e9\r\n"
        sent = self.client.send_message(QueueUrl=url, MessageBody=body)
        messages = self.client.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=1)["Messages"]
        self.assertEqual([m["Body"] for m in messages], [body])
        self.assertEqual(messages[0]["MessageId"], sent["MessageId"])
        self.client.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])
        self.assertEqual(self.client.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []), [])
        self.assertIn(url, self.client.list_queues(QueueNamePrefix=f"{EXPECT_PROTOCOL}-sigv4-").get("QueueUrls", []))

    def test_sts_get_caller_identity_names_the_keys_account(self):
        def sts(secret):
            return boto3.session.Session().client("sts", endpoint_url=ENDPOINT, region_name="us-east-1",
                                                  aws_access_key_id=KEY_ID, aws_secret_access_key=secret,
                                                  config=Config(retries={"max_attempts": 1}))
        identity = sts(SECRET).get_caller_identity()
        self.assertEqual((identity["Account"], identity["Arn"]), (ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root"))
        with self.assertRaises(ClientError) as ctx:
            sts(SECRET + "-wrong").get_caller_identity()
        self.assertEqual(ctx.exception.response["Error"].get("Code"), "SignatureDoesNotMatch")

    def test_wrong_secret_is_signature_does_not_match(self):
        self.assertRefused("SignatureDoesNotMatch", 403, make_client(secret=SECRET + "-wrong"))

    def test_unknown_key_is_invalid_client_token_id(self):
        self.assertRefused("InvalidClientTokenId", 403, make_client(key_id="AKIAUNKNOWNKEY000000"))

    # ---------------------------------------------------------------------------------------------- presigned

    def presign_list_queues(self, client, prefix, expires_in=300):
        return client.generate_presigned_url(
            "list_queues", Params={"QueueNamePrefix": prefix}, ExpiresIn=expires_in, HttpMethod="GET"
        )

    @unittest.skipUnless(EXPECT_PROTOCOL == "query", "a presigned GET is a Query-protocol request")
    def test_presigned_get_lists_the_queue(self):
        url = self.create("presigned")
        presigned = self.presign_list_queues(self.client, f"{EXPECT_PROTOCOL}-sigv4-presigned-{RUN_ID}")
        self.assertIn("X-Amz-Signature=", presigned)
        self.assertIn("Action=ListQueues", presigned)
        status, body = fetch(presigned)
        self.assertEqual(status, 200, body)
        root = ET.fromstring(body)
        self.assertEqual(root.tag, f"{NS}ListQueuesResponse", body)
        self.assertEqual([e.text for e in root.iter(f"{NS}QueueUrl")], [url], body)

    @unittest.skipUnless(EXPECT_PROTOCOL == "query", "a presigned GET is a Query-protocol request")
    def test_presigned_get_fails_once_expired_or_with_a_wrong_secret(self):
        real_datetime = datetime.datetime

        class TwoHoursAgo(real_datetime):
            @classmethod
            def utcnow(cls):
                return real_datetime.utcnow() - datetime.timedelta(hours=2)

        # botocore 1.34 takes the signing time from datetime.datetime.utcnow() in botocore.auth.
        with mock.patch.object(botocore.auth.datetime, "datetime", TwoHoursAgo):
            expired = self.presign_list_queues(self.client, "x", expires_in=60)
        status, body = fetch(expired)
        self.assertEqual(status, 400, body)
        self.assertEqual(ET.fromstring(body).find(f"{NS}Error/{NS}Code").text, "RequestExpired", body)

        forged = self.presign_list_queues(make_client(secret=SECRET + "-wrong"), "x")
        status, body = fetch(forged)
        self.assertEqual(status, 403, body)
        self.assertEqual(ET.fromstring(body).find(f"{NS}Error/{NS}Code").text, "SignatureDoesNotMatch", body)

        unsigned = forged.split("&X-Amz-Signature=")[0]
        status, body = fetch(unsigned)
        self.assertEqual(status, 400, body)
        self.assertEqual(ET.fromstring(body).find(f"{NS}Error/{NS}Code").text, "IncompleteSignature", body)

if __name__ == "__main__":
    for name, value in [("SQS_ENDPOINT", ENDPOINT), ("SIGV4_ACCESS_KEY_ID", KEY_ID),
                        ("SIGV4_SECRET_ACCESS_KEY", SECRET), ("SIGV4_ACCOUNT_ID", ACCOUNT)]:
        if not value:
            sys.exit(f"{name} is not set")
    print(f"boto3 {boto3.__version__}, botocore {botocore.__version__}, sigv4 against {ENDPOINT} "
          f"(expecting the {EXPECT_PROTOCOL} protocol)")
    unittest.main(verbosity=2)
