"""boto3 against the sqskit emulator, over the protocol that the installed botocore speaks.

Run by tests/clients/run.sh, twice: once in a venv with the current boto3 (AWS JSON 1.0) and once in a
venv with an old boto3/botocore that still speaks the legacy Query protocol for SQS.

Environment:
  SQS_ENDPOINT     the emulator's endpoint, e.g. http://127.0.0.1:9324 (required)
  EXPECT_PROTOCOL  "json" or "query": the protocol botocore's SQS model must declare, and the wire format
                   every request must have (checked on every request by a before-send hook)
"""

import base64
import hashlib
import json
import os
import struct
import sys
import unittest
import urllib.request
import uuid

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ.get("SQS_ENDPOINT", "")
EXPECT_PROTOCOL = os.environ.get("EXPECT_PROTOCOL", "")
RUN_ID = uuid.uuid4().hex[:8]

NON_EXISTENT = "AWS.SimpleQueueService.NonExistentQueue"

# unicode (2-, 3- and 4-byte UTF-8), characters that XML must escape, and a CR LF that XML parsers
# normalise to LF unless the server writes the CR as a character reference.
TRICKY_BODY = "héllo wörld ✓ 日本語 😀 <tag attr=\"v\">&amp; 'q'</tag> < & >\r\nsecond line\ttab\rlone CR"


# ---------------------------------------------------------------------------------------------- digests


def _lp(data):
    return struct.pack(">I", len(data)) + data


def md5_of_attributes(attrs):
    """MD5OfMessageAttributes per SPEC §9. attrs: name -> {"DataType", "StringValue" | "BinaryValue"}."""
    buf = b""
    for name in sorted(attrs):
        attr = attrs[name]
        buf += _lp(name.encode("utf-8")) + _lp(attr["DataType"].encode("utf-8"))
        if attr.get("StringValue") is not None:
            buf += b"\x01" + _lp(attr["StringValue"].encode("utf-8"))
        else:
            value = attr["BinaryValue"]
            if isinstance(value, str):
                value = base64.b64decode(value)
            buf += b"\x02" + _lp(bytes(value))
    return hashlib.md5(buf).hexdigest()


def md5_of_body(body):
    return hashlib.md5(body.encode("utf-8")).hexdigest()


# ------------------------------------------------------------------------------------------------ client


class WireRecorder:
    """Records every request botocore sends, to prove which wire protocol was used."""

    def __init__(self):
        self.requests = []

    def __call__(self, request, **_):
        headers = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
        body = request.body
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        self.requests.append((headers, body or ""))


def make_client(region="us-east-1"):
    client = boto3.session.Session().client(
        "sqs",
        endpoint_url=ENDPOINT,
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
    )
    recorder = WireRecorder()
    client.meta.events.register("before-send.sqs.*", recorder)
    return client, recorder


def has_input_member(client, operation, member):
    shape = client.meta.service_model.operation_model(operation).input_shape
    return member in shape.members


def qname(label):
    return f"{EXPECT_PROTOCOL}-{label}-{RUN_ID}"


class SqsTestCase(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.client, cls.recorder = make_client()

    def assertClientError(self, code, fn, *args, **kwargs):
        with self.assertRaises(ClientError) as ctx:
            fn(*args, **kwargs)
        err = ctx.exception.response["Error"]
        self.assertEqual(err.get("Code"), code, f"error response: {ctx.exception.response}")
        return ctx.exception

    def create(self, label, **kwargs):
        url = self.client.create_queue(QueueName=qname(label), **kwargs)["QueueUrl"]
        self.addCleanup(self._delete_quietly, url)
        return url

    def _delete_quietly(self, url):
        try:
            self.client.delete_queue(QueueUrl=url)
        except ClientError:
            pass

    def receive_all(self, url, **kwargs):
        args = dict(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"])
        if has_input_member(self.client, "ReceiveMessage", "MessageSystemAttributeNames"):
            args["MessageSystemAttributeNames"] = ["All"]
        args["AttributeNames"] = ["All"]
        args.update(kwargs)
        return self.client.receive_message(**args).get("Messages", [])


# ------------------------------------------------------------------------------------------------- tests


class T00Environment(SqsTestCase):
    def test_digest_helper_matches_spec_vectors(self):
        attrs = {
            "OrderId": {"DataType": "String", "StringValue": "A-1001"},
            "Priority": {"DataType": "Number", "StringValue": "5"},
            "Blob": {"DataType": "Binary", "BinaryValue": b"\x01\x02\x03"},
        }
        self.assertEqual(md5_of_attributes(attrs), "55d9d49634bd05768defd42ef21e185d")
        self.assertEqual(md5_of_body("Hello from sqskit"), "09077c1cb05a9e73a1620c07e4bea548")

    def test_protocol_is_the_expected_one(self):
        self.assertIn(EXPECT_PROTOCOL, ("json", "query"), "set EXPECT_PROTOCOL to json or query")
        self.assertEqual(self.client.meta.service_model.protocol, EXPECT_PROTOCOL,
                         f"botocore {botocore.__version__} speaks {self.client.meta.service_model.protocol}")
        self.client.list_queues(QueueNamePrefix="nothing-has-this-prefix")
        headers, body = self.recorder.requests[-1]
        if EXPECT_PROTOCOL == "json":
            self.assertEqual(headers.get("x-amz-target"), "AmazonSQS.ListQueues")
            self.assertTrue(headers.get("content-type", "").startswith("application/x-amz-json-1.0"), headers)
        else:
            self.assertNotIn("x-amz-target", headers)
            self.assertTrue(headers.get("content-type", "").startswith("application/x-www-form-urlencoded"),
                            headers)
            self.assertIn("Action=ListQueues", body)
            self.assertIn("Version=2012-11-05", body)


class T01Queues(SqsTestCase):
    def test_create_get_url_list_and_delete(self):
        url = self.create("alpha", Attributes={"VisibilityTimeout": "40", "DelaySeconds": "0"},
                          tags={"team": "core", "env": "test"})
        self.assertTrue(url.endswith("/" + qname("alpha")), url)
        # CreateQueue with identical attributes is idempotent
        again = self.client.create_queue(QueueName=qname("alpha"), Attributes={"VisibilityTimeout": "40",
                                                                                "DelaySeconds": "0"})
        self.assertEqual(again["QueueUrl"], url)
        self.assertEqual(self.client.get_queue_url(QueueName=qname("alpha"))["QueueUrl"], url)

        beta = self.create("alphabet")
        other = self.create("zulu")
        listed = self.client.list_queues(QueueNamePrefix=f"{EXPECT_PROTOCOL}-alpha")["QueueUrls"]
        mine = sorted(u for u in listed if u.endswith(RUN_ID))
        self.assertEqual(mine, sorted([url, beta]))
        self.assertNotIn(other, listed)
        self.assertNotIn("QueueUrls", self.client.list_queues(QueueNamePrefix="no-such-prefix-" + RUN_ID))

        tags = self.client.list_queue_tags(QueueUrl=url)["Tags"]
        self.assertEqual(tags, {"team": "core", "env": "test"})

        self.client.delete_queue(QueueUrl=other)
        self.assertClientError(NON_EXISTENT, self.client.get_queue_url, QueueName=qname("zulu"))

    def test_queue_attributes(self):
        url = self.create("attrs", Attributes={"VisibilityTimeout": "40", "MessageRetentionPeriod": "3600"})
        attrs = self.client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        self.assertEqual(attrs["VisibilityTimeout"], "40")
        self.assertEqual(attrs["MessageRetentionPeriod"], "3600")
        self.assertTrue(attrs["QueueArn"].startswith("arn:aws:sqs:us-east-1:"), attrs)
        self.assertTrue(attrs["QueueArn"].endswith(":" + qname("attrs")), attrs)
        for name in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "CreatedTimestamp",
                     "LastModifiedTimestamp", "MaximumMessageSize", "ReceiveMessageWaitTimeSeconds",
                     "DelaySeconds"):
            self.assertIn(name, attrs)

        self.client.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "45",
                                                                    "DelaySeconds": "2"})
        some = self.client.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout",
                                                                              "DelaySeconds"])["Attributes"]
        self.assertEqual(some, {"VisibilityTimeout": "45", "DelaySeconds": "2"})

        self.assertClientError("InvalidAttributeName", self.client.get_queue_attributes, QueueUrl=url,
                               AttributeNames=["NoSuchAttribute"])

    def test_dead_letter_queue_attributes(self):
        dlq = self.create("dlq")
        dlq_arn = self.client.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
        src = self.create("dlqsource", Attributes={"RedrivePolicy": policy})
        got = self.client.get_queue_attributes(QueueUrl=src, AttributeNames=["RedrivePolicy"])["Attributes"]
        self.assertEqual(json.loads(got["RedrivePolicy"]), {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
        sources = self.client.list_dead_letter_source_queues(QueueUrl=dlq)
        self.assertEqual(sources.get("queueUrls"), [src], sources)

    def test_tags(self):
        url = self.create("tags", tags={"a": "1"})
        self.client.tag_queue(QueueUrl=url, Tags={"b": "2", "c": "three"})
        self.assertEqual(self.client.list_queue_tags(QueueUrl=url)["Tags"], {"a": "1", "b": "2", "c": "three"})
        self.client.untag_queue(QueueUrl=url, TagKeys=["a", "c"])
        self.assertEqual(self.client.list_queue_tags(QueueUrl=url)["Tags"], {"b": "2"})
        self.client.untag_queue(QueueUrl=url, TagKeys=["b"])
        self.assertNotIn("Tags", self.client.list_queue_tags(QueueUrl=url))


class T02Messages(SqsTestCase):
    def test_send_and_receive_with_attributes_and_digests(self):
        url = self.create("messages")
        attributes = {
            "Name": {"DataType": "String", "StringValue": "zoë <&> \"quoted\""},
            "Count": {"DataType": "Number", "StringValue": "42"},
            "Price": {"DataType": "Number.float", "StringValue": "3.14"},
            "Blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xfe\xff binary"},
        }
        trace = {"AWSTraceHeader": {"DataType": "String",
                                    "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"}}
        sent = self.client.send_message(QueueUrl=url, MessageBody=TRICKY_BODY, MessageAttributes=attributes,
                                        MessageSystemAttributes=trace)
        self.assertEqual(len(sent["MessageId"]), 36, sent)
        self.assertEqual(sent["MD5OfMessageSystemAttributes"], "5f48eef650c1d0207456969c85af2fdd")
        self.assertEqual(sent["MD5OfMessageBody"], md5_of_body(TRICKY_BODY))
        self.assertEqual(sent["MD5OfMessageAttributes"], md5_of_attributes(attributes))
        self.assertNotIn("SequenceNumber", sent)

        messages = self.receive_all(url)
        self.assertEqual(len(messages), 1, messages)
        msg = messages[0]
        self.assertEqual(msg["MessageId"], sent["MessageId"])
        self.assertEqual(msg["Body"], TRICKY_BODY, "body must survive the round trip byte for byte")
        self.assertEqual(msg["MD5OfBody"], md5_of_body(msg["Body"]))
        self.assertEqual(msg["MD5OfBody"], sent["MD5OfMessageBody"])

        got_attrs = msg["MessageAttributes"]
        self.assertEqual(set(got_attrs), set(attributes))
        for name, attr in attributes.items():
            self.assertEqual(got_attrs[name]["DataType"], attr["DataType"], name)
            if "StringValue" in attr:
                self.assertEqual(got_attrs[name]["StringValue"], attr["StringValue"], name)
            else:
                self.assertEqual(bytes(got_attrs[name]["BinaryValue"]), attr["BinaryValue"], name)
        self.assertEqual(msg["MD5OfMessageAttributes"], md5_of_attributes(got_attrs))
        self.assertEqual(msg["MD5OfMessageAttributes"], sent["MD5OfMessageAttributes"])

        system = msg["Attributes"]
        for name in ("SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp"):
            self.assertIn(name, system)
        self.assertEqual(system["ApproximateReceiveCount"], "1")
        self.assertEqual(system["AWSTraceHeader"], trace["AWSTraceHeader"]["StringValue"])
        self.assertTrue(system["SentTimestamp"].isdigit() and len(system["SentTimestamp"]) == 13, system)
        self.assertNotIn("SequenceNumber", system)

        self.client.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
        self.assertEqual(self.receive_all(url, WaitTimeSeconds=0), [])

    def test_receive_selected_message_attribute_only(self):
        url = self.create("select")
        attributes = {"OrderId": {"DataType": "String", "StringValue": "A-1001"},
                      "Priority": {"DataType": "Number", "StringValue": "5"}}
        self.client.send_message(QueueUrl=url, MessageBody="Hello from sqskit", MessageAttributes=attributes)
        msg = self.receive_all(url, MessageAttributeNames=["OrderId"])[0]
        self.assertEqual(set(msg["MessageAttributes"]), {"OrderId"})
        self.assertEqual(msg["MD5OfMessageAttributes"], "7cc2e4344147578b847411f21bade715")
        self.assertEqual(msg["MD5OfBody"], "09077c1cb05a9e73a1620c07e4bea548")

    def test_receive_message_attribute_name_wildcards(self):
        # AWS: All, .* and * select every attribute; "Hel.*" is the plain prefix "Hel" (docs/aws-behaviour.md).
        url = self.create("wildcards", Attributes={"VisibilityTimeout": "0"})
        attributes = {"Help.Me": {"DataType": "String", "StringValue": "Me"},
                      "Hello": {"DataType": "String", "StringValue": "There"},
                      "General": {"DataType": "String", "StringValue": "Kenobi"}}
        self.client.send_message(QueueUrl=url, MessageBody="msg", MessageAttributes=attributes)
        for names, expected in [(["All"], {"Help.Me", "Hello", "General"}), ([".*"], {"Help.Me", "Hello", "General"}),
                                (["Hel.*"], {"Help.Me", "Hello"}), (["Foo", "G.*"], {"General"}), (["AWS."], set())]:
            msg = self.receive_all(url, MessageAttributeNames=names)[0]
            returned = msg.get("MessageAttributes", {})
            self.assertEqual(set(returned), expected, names)
            if expected:
                self.assertEqual(msg["MD5OfMessageAttributes"],
                                 md5_of_attributes({name: attributes[name] for name in expected}), names)
            else:
                self.assertNotIn("MD5OfMessageAttributes", msg, names)

    def test_long_poll_returns_empty_without_messages(self):
        url = self.create("empty")
        resp = self.client.receive_message(QueueUrl=url, WaitTimeSeconds=1)
        self.assertNotIn("Messages", resp)

    def test_batches(self):
        url = self.create("batch")
        entries = [
            {"Id": "first", "MessageBody": "batch one ✓",
             "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v1"}}},
            {"Id": "second", "MessageBody": "batch two <&>\r\n", "DelaySeconds": 0},
        ]
        resp = self.client.send_message_batch(QueueUrl=url, Entries=entries)
        self.assertEqual(resp.get("Failed", []), [])
        ok = {e["Id"]: e for e in resp["Successful"]}
        self.assertEqual(set(ok), {"first", "second"})
        self.assertEqual(ok["first"]["MD5OfMessageBody"], md5_of_body("batch one ✓"))
        self.assertEqual(ok["first"]["MD5OfMessageAttributes"], md5_of_attributes(entries[0]["MessageAttributes"]))
        self.assertEqual(ok["second"]["MD5OfMessageBody"], md5_of_body("batch two <&>\r\n"))
        self.assertNotIn("MD5OfMessageAttributes", ok["second"])

        messages = self.receive_all(url)
        self.assertEqual(sorted(m["Body"] for m in messages), sorted(e["MessageBody"] for e in entries))
        for m in messages:
            self.assertEqual(m["MD5OfBody"], md5_of_body(m["Body"]))

        # one good handle, one bogus: the bogus entry fails on its own, the good one is deleted
        delete = self.client.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": "good", "ReceiptHandle": messages[0]["ReceiptHandle"]},
            {"Id": "bogus", "ReceiptHandle": "not-a-receipt-handle"},
        ])
        self.assertEqual([e["Id"] for e in delete["Successful"]], ["good"])
        self.assertEqual(len(delete["Failed"]), 1, delete)
        failed = delete["Failed"][0]
        self.assertEqual(failed["Id"], "bogus")
        self.assertEqual(failed["Code"], "ReceiptHandleIsInvalid")
        self.assertIs(failed["SenderFault"], True)

        delete = self.client.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": "rest", "ReceiptHandle": messages[1]["ReceiptHandle"]}])
        self.assertEqual([e["Id"] for e in delete["Successful"]], ["rest"])
        self.assertEqual(delete.get("Failed", []), [])
        attrs = self.client.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        self.assertEqual(attrs, {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"})

    def test_change_message_visibility(self):
        url = self.create("visibility")
        self.client.send_message(QueueUrl=url, MessageBody="see me twice")
        first = self.receive_all(url, VisibilityTimeout=30)
        self.assertEqual(len(first), 1)
        self.assertEqual(self.receive_all(url, WaitTimeSeconds=0), [], "message must be in flight")
        self.client.change_message_visibility(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"],
                                              VisibilityTimeout=0)
        second = self.receive_all(url)
        self.assertEqual(len(second), 1)
        self.assertEqual(second[0]["MessageId"], first[0]["MessageId"])
        self.assertEqual(second[0]["Attributes"]["ApproximateReceiveCount"], "2")
        self.assertNotEqual(second[0]["ReceiptHandle"], first[0]["ReceiptHandle"])
        batch = self.client.change_message_visibility_batch(QueueUrl=url, Entries=[
            {"Id": "e1", "ReceiptHandle": second[0]["ReceiptHandle"], "VisibilityTimeout": 0}])
        self.assertEqual([e["Id"] for e in batch["Successful"]], ["e1"])
        self.assertEqual(len(self.receive_all(url)), 1)

    def test_purge(self):
        url = self.create("purge")
        for i in range(3):
            self.client.send_message(QueueUrl=url, MessageBody=f"purge me {i}")
        self.client.purge_queue(QueueUrl=url)
        attrs = self.client.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        self.assertEqual(attrs["Attributes"]["ApproximateNumberOfMessages"], "0")
        self.assertEqual(self.receive_all(url, WaitTimeSeconds=0), [])
        self.assertClientError("AWS.SimpleQueueService.PurgeQueueInProgress", self.client.purge_queue,
                               QueueUrl=url)


class T03Fifo(SqsTestCase):
    def test_fifo_send_receive(self):
        name = qname("orders") + ".fifo"
        url = self.client.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"]
        self.addCleanup(self._delete_quietly, url)
        self.assertTrue(url.endswith("/" + name), url)
        first = self.client.send_message(QueueUrl=url, MessageBody="fifo one", MessageGroupId="g1",
                                         MessageDeduplicationId="d1")
        second = self.client.send_message(QueueUrl=url, MessageBody="fifo two", MessageGroupId="g1",
                                          MessageDeduplicationId="d2")
        self.assertTrue(first["SequenceNumber"].isdigit(), first)
        self.assertGreater(int(second["SequenceNumber"]), int(first["SequenceNumber"]))
        dup = self.client.send_message(QueueUrl=url, MessageBody="fifo one again", MessageGroupId="g1",
                                       MessageDeduplicationId="d1")
        self.assertEqual(dup["MessageId"], first["MessageId"], "duplicate send returns the first message's id")

        messages = self.receive_all(url)
        self.assertEqual([m["Body"] for m in messages], ["fifo one", "fifo two"])
        attrs = messages[0]["Attributes"]
        self.assertEqual(attrs["SequenceNumber"], first["SequenceNumber"])
        self.assertEqual(attrs["MessageGroupId"], "g1")
        self.assertEqual(attrs["MessageDeduplicationId"], "d1")

        self.assertClientError("MissingParameter", self.client.send_message, QueueUrl=url, MessageBody="x")


class T04Errors(SqsTestCase):
    def test_queue_does_not_exist(self):
        err = self.assertClientError(NON_EXISTENT, self.client.get_queue_url, QueueName="missing-" + RUN_ID)
        self.assertEqual(err.response["Error"].get("Type"), "Sender")
        self.assertEqual(err.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        if EXPECT_PROTOCOL == "json":
            # Code comes from the x-amzn-query-error header, QueryErrorCode from the body's __type
            self.assertEqual(err.response["Error"].get("QueryErrorCode"), "QueueDoesNotExist", err.response)
        # the modeled exception class: through the shape name (JSON) or the legacy code (Query)
        with self.assertRaises(self.client.exceptions.QueueDoesNotExist):
            self.client.get_queue_url(QueueName="missing-" + RUN_ID)
        missing_url = ENDPOINT + "/000000000000/missing-" + RUN_ID
        with self.assertRaises(self.client.exceptions.QueueDoesNotExist):
            self.client.send_message(QueueUrl=missing_url, MessageBody="nowhere")

    def test_batch_errors(self):
        url = self.create("batcherr")
        self.assertClientError("AWS.SimpleQueueService.EmptyBatchRequest", self.client.send_message_batch,
                               QueueUrl=url, Entries=[])
        self.assertClientError("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", self.client.send_message_batch,
                               QueueUrl=url, Entries=[{"Id": "same", "MessageBody": "a"},
                                                      {"Id": "same", "MessageBody": "b"}])
        self.assertClientError("AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
                               self.client.send_message_batch, QueueUrl=url,
                               Entries=[{"Id": f"e{i}", "MessageBody": "x"} for i in range(11)])
        self.assertClientError("AWS.SimpleQueueService.InvalidBatchEntryId", self.client.send_message_batch,
                               QueueUrl=url, Entries=[{"Id": "bad id!", "MessageBody": "x"}])
        # per-entry failure: an entry with a body SQS refuses fails alone
        resp = self.client.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "ok", "MessageBody": "fine"},
            {"Id": "bad", "MessageBody": "control char \x01 is not allowed"},
        ])
        self.assertEqual([e["Id"] for e in resp["Successful"]], ["ok"])
        self.assertEqual(len(resp["Failed"]), 1, resp)
        self.assertEqual(resp["Failed"][0]["Id"], "bad")
        self.assertEqual(resp["Failed"][0]["Code"], "InvalidMessageContents")
        self.assertIs(resp["Failed"][0]["SenderFault"], True)

    def test_invalid_parameter_values(self):
        url = self.create("invalid")
        self.assertClientError("InvalidParameterValue", self.client.receive_message, QueueUrl=url,
                               MaxNumberOfMessages=11)
        self.assertClientError("InvalidParameterValue", self.client.create_queue, QueueName="bad name!")
        self.assertClientError("ReceiptHandleIsInvalid", self.client.delete_message, QueueUrl=url,
                               ReceiptHandle="garbage")


class T07Regions(SqsTestCase):
    """One emulator serves every region: a client configured for eu-west-1 signs its requests for eu-west-1, and
    its queues are invisible to the us-east-1 client (docs/aws-behaviour.md, "Regions")."""

    def test_a_queue_created_in_one_region_is_invisible_in_another(self):
        ireland, recorder = make_client("eu-west-1")
        name = qname("regional")
        url = ireland.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"})["QueueUrl"]
        self.addCleanup(lambda: ireland.delete_queue(QueueUrl=url))
        self.assertIn("/eu-west-1/sqs/aws4_request", recorder.requests[-1][0]["authorization"])
        arn = ireland.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.assertEqual(arn, "arn:aws:sqs:eu-west-1:000000000000:" + name)

        self.assertClientError(NON_EXISTENT, self.client.get_queue_url, QueueName=name)
        self.assertNotIn(url, self.client.list_queues(QueueNamePrefix=name).get("QueueUrls", []))
        self.assertEqual(ireland.list_queues(QueueNamePrefix=name)["QueueUrls"], [url])
        self.assertClientError(NON_EXISTENT, self.client.send_message, QueueUrl=url, MessageBody="x")

        # The same name in us-east-1 is another queue.
        here = self.create("regional", Attributes={"VisibilityTimeout": "10"})
        self.assertEqual(here, url)
        ireland.send_message(QueueUrl=url, MessageBody="for Ireland")
        self.assertEqual(self.receive_all(here, WaitTimeSeconds=0), [])
        got = ireland.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
        self.assertEqual([m["Body"] for m in got], ["for Ireland"])
        self.assertEqual(ireland.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
                         ["Attributes"]["VisibilityTimeout"], "45")

        # A dead-letter queue must be in its source's region.
        policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 3})
        self.assertClientError("InvalidParameterValue", self.client.create_queue, QueueName=qname("regsrc"),
                               Attributes={"RedrivePolicy": policy})
        source = ireland.create_queue(QueueName=qname("regsrc"), Attributes={"RedrivePolicy": policy})["QueueUrl"]
        self.addCleanup(lambda: ireland.delete_queue(QueueUrl=source))
        self.assertEqual(ireland.list_dead_letter_source_queues(QueueUrl=url).get("queueUrls"), [source])


class T06CallerIdentity(SqsTestCase):
    def test_sts_get_caller_identity_on_the_same_port(self):
        # STS speaks Query; with AWS_ENDPOINT_URL_STS (here endpoint_url) at the emulator, the default account's
        # root user answers (authentication off).
        sts = boto3.session.Session().client("sts", endpoint_url=ENDPOINT, region_name="us-east-1",
                                             aws_access_key_id="test", aws_secret_access_key="test")
        identity = sts.get_caller_identity()
        url = self.create("identity")
        account = url.rstrip("/").split("/")[-2]
        self.assertEqual(identity["Account"], account)
        self.assertEqual(identity["UserId"], account)
        self.assertEqual(identity["Arn"], f"arn:aws:iam::{account}:root")


class T05InjectedFaults(SqsTestCase):
    """Faults installed through the emulator's admin API reach boto3 as AWS's own errors."""

    def admin(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(ENDPOINT + "/_sqskit" + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return json.loads(raw) if raw else None

    def test_throttling_and_server_errors_arrive_with_awss_codes(self):
        url = self.create("faults")
        name = url.rsplit("/", 1)[1]
        self.addCleanup(self.admin, "POST", "/faults/reset")
        self.admin("POST", "/faults", {"queue": name, "action": "SendMessage", "kind": "throttle"})
        err = self.assertClientError("RequestThrottled", self.client.send_message, QueueUrl=url, MessageBody="x")
        self.assertEqual(err.response["ResponseMetadata"]["HTTPStatusCode"], 403)
        self.admin("POST", "/faults/reset")
        self.admin("POST", "/faults", {"queue": name, "action": "GetQueueAttributes", "kind": "server_error",
                                       "error": "ServiceUnavailable"})
        err = self.assertClientError("ServiceUnavailable", self.client.get_queue_attributes, QueueUrl=url,
                                     AttributeNames=["All"])
        self.assertEqual(err.response["ResponseMetadata"]["HTTPStatusCode"], 503)
        rules = self.admin("GET", "/faults")["rules"]
        # botocore may retry a 503 once even with max_attempts=1 (legacy retry mode), so at least one
        self.assertEqual(len(rules), 1)
        self.assertGreaterEqual(rules[0]["injected"], 1)


if __name__ == "__main__":
    if not ENDPOINT:
        sys.exit("SQS_ENDPOINT is not set")
    print(f"boto3 {boto3.__version__}, botocore {botocore.__version__}, "
          f"SQS protocol {make_client()[0].meta.service_model.protocol}, endpoint {ENDPOINT}", flush=True)
    unittest.main(verbosity=2)
