"""Drives AWS's Python SQS extended client (amazon-sqs-extended-client) for tests/offload/interop.rs.

    interop.py send QUEUE_URL BUCKET BYTES [legacy]   one message of a JSON body of BYTES bytes; prints
                                                     {"sha256", "length"} of the body sent
    interop.py receive QUEUE_URL BUCKET COUNT         long-polls until COUNT messages arrived (60 s at most);
                                                     prints a list of {"sha256", "length", "receipt_handle",
                                                     "attributes"} without deleting them

SQS goes to the endpoint in AWS_ENDPOINT_URL_SQS, S3 to AWS_ENDPOINT_URL_S3 (botocore reads both), with the
credentials and region of the environment.
"""
import hashlib
import json
import os
import sys
import time

from sqs_extended_client import SQSExtendedClientSession


def client(bucket):
    session = SQSExtendedClientSession(region_name=os.environ.get("AWS_REGION", "us-east-1"))
    sqs = session.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL_SQS"])
    sqs.large_payload_support = bucket
    return sqs


def digest(body):
    data = body.encode("utf-8")
    return {"sha256": hashlib.sha256(data).hexdigest(), "length": len(data)}


def send(queue_url, bucket, size, legacy=False):
    sqs = client(bucket)
    sqs.use_legacy_attribute = legacy
    prefix = '{"id":"from-python","total_cents":4200,"pad":"'
    suffix = '"}'
    body = prefix + "p" * (size - len(prefix) - len(suffix)) + suffix
    sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    print(json.dumps(digest(body)))


def receive(queue_url, bucket, count):
    sqs = client(bucket)
    messages = []
    deadline = time.time() + 60
    while len(messages) < count and time.time() < deadline:
        answer = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=min(10, count - len(messages)), WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
        )
        for message in answer.get("Messages", []):
            entry = digest(message["Body"])
            entry["receipt_handle"] = message["ReceiptHandle"]
            entry["attributes"] = sorted(message.get("MessageAttributes", {}).keys())
            messages.append(entry)
    print(json.dumps(messages))


if __name__ == "__main__":
    command, queue_url, bucket, number = sys.argv[1:5]
    if command == "send":
        send(queue_url, bucket, int(number), legacy=sys.argv[5:] == ["legacy"])
    elif command == "receive":
        receive(queue_url, bucket, int(number))
    else:
        sys.exit(f"unknown command {command}")
