// The AWS SDK for JavaScript v3 (@aws-sdk/client-sqs, AWS JSON 1.0) against the sqskit emulator.
// Run by tests/clients/run.sh: SQS_ENDPOINT=http://127.0.0.1:PORT node --test test.mjs
// The SDK's own MD5 checks (MD5OfMessageBody on SendMessage/SendMessageBatch, MD5OfBody on ReceiveMessage)
// stay ON: every send and receive below goes through them.

import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { after, before, describe, test } from "node:test";

import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListDeadLetterSourceQueuesCommand,
  ListQueuesCommand,
  ListQueueTagsCommand,
  PurgeQueueCommand,
  QueueDoesNotExist,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
  SQSServiceException,
  TagQueueCommand,
  UntagQueueCommand,
  EmptyBatchRequest,
  BatchEntryIdsNotDistinct,
} from "@aws-sdk/client-sqs";

const ENDPOINT = process.env.SQS_ENDPOINT;
if (!ENDPOINT) throw new Error("SQS_ENDPOINT is not set");
const RUN_ID = randomUUID().slice(0, 8);
const NON_EXISTENT = "AWS.SimpleQueueService.NonExistentQueue";
const TRICKY_BODY = "héllo wörld ✓ 日本語 😀 <tag attr=\"v\">&amp; 'q'</tag> < & >\r\nsecond line\ttab\rlone CR";

const require = createRequire(import.meta.url);
const SDK_VERSION = require("@aws-sdk/client-sqs/package.json").version;

function makeClient(extra = {}) {
  return new SQSClient({
    endpoint: ENDPOINT,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
    ...extra,
  });
}

const sqs = makeClient();
const qname = (label) => `js-${label}-${RUN_ID}`;
const created = [];

async function createQueue(label, input = {}) {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: qname(label), ...input }));
  created.push(QueueUrl);
  return QueueUrl;
}

async function receiveAll(QueueUrl, extra = {}) {
  const out = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 1,
      MessageSystemAttributeNames: ["All"],
      MessageAttributeNames: ["All"],
      ...extra,
    }),
  );
  return out.Messages ?? [];
}

async function expectError(promise, check) {
  let caught;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught, "expected the call to fail");
  check(caught);
  return caught;
}

const md5Hex = (bytes) => createHash("md5").update(bytes).digest("hex");
const lp = (buf) => {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(buf.length);
  return Buffer.concat([len, buf]);
};
// MD5OfMessageAttributes per SPEC §9
function md5OfAttributes(attrs) {
  const parts = [];
  for (const name of Object.keys(attrs).sort()) {
    const a = attrs[name];
    parts.push(lp(Buffer.from(name, "utf8")), lp(Buffer.from(a.DataType, "utf8")));
    if (a.StringValue !== undefined) parts.push(Buffer.from([1]), lp(Buffer.from(a.StringValue, "utf8")));
    else parts.push(Buffer.from([2]), lp(Buffer.from(a.BinaryValue)));
  }
  return md5Hex(Buffer.concat(parts));
}

before(() => {
  console.log(`@aws-sdk/client-sqs ${SDK_VERSION}, node ${process.version}, endpoint ${ENDPOINT}`);
});

after(async () => {
  for (const QueueUrl of created) {
    try {
      await sqs.send(new DeleteQueueCommand({ QueueUrl }));
    } catch {
      // already deleted by the test
    }
  }
  sqs.destroy();
});

describe("environment", () => {
  test("digest helper matches the SPEC vectors", () => {
    const attrs = {
      OrderId: { DataType: "String", StringValue: "A-1001" },
      Priority: { DataType: "Number", StringValue: "5" },
      Blob: { DataType: "Binary", BinaryValue: new Uint8Array([1, 2, 3]) },
    };
    assert.equal(md5OfAttributes(attrs), "55d9d49634bd05768defd42ef21e185d");
  });

  test("the SDK's MD5 checks are on and would catch a wrong digest", async () => {
    assert.equal(typeof sqs.config.md5, "function", "md5 checks must be enabled (config.md5 is the hash)");
    const url = await createQueue("md5probe");
    // A client whose responses get a wrong MD5OfMessageBody after deserialisation: the SDK must reject it.
    const tampered = makeClient();
    tampered.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        if (result.output && "MD5OfMessageBody" in result.output) {
          result.output.MD5OfMessageBody = "0".repeat(32);
        }
        return result;
      },
      { step: "build", name: "tamperMd5" },
    );
    await expectError(tampered.send(new SendMessageCommand({ QueueUrl: url, MessageBody: "probe" })), (err) =>
      assert.match(String(err.message), /checksum/i),
    );
    tampered.destroy();
  });
});

describe("queues", () => {
  test("create (attributes, tags), get url, list by prefix, delete", async () => {
    const url = await createQueue("alpha", {
      Attributes: { VisibilityTimeout: "40" },
      tags: { team: "core", env: "test" },
    });
    assert.ok(url.endsWith("/" + qname("alpha")), url);
    const again = await sqs.send(new GetQueueUrlCommand({ QueueName: qname("alpha") }));
    assert.equal(again.QueueUrl, url);

    const beta = await createQueue("alphabet");
    const zulu = await createQueue("zulu");
    const listed = (await sqs.send(new ListQueuesCommand({ QueueNamePrefix: "js-alpha" }))).QueueUrls ?? [];
    const mine = listed.filter((u) => u.endsWith(RUN_ID)).sort();
    assert.deepEqual(mine, [url, beta].sort());
    assert.ok(!listed.includes(zulu));

    const tags = await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }));
    assert.deepEqual(tags.Tags, { team: "core", env: "test" });

    await sqs.send(new DeleteQueueCommand({ QueueUrl: zulu }));
    await expectError(sqs.send(new GetQueueUrlCommand({ QueueName: qname("zulu") })), (err) =>
      assert.ok(err instanceof QueueDoesNotExist, `${err.name}: ${err.message}`),
    );
  });

  test("get and set queue attributes", async () => {
    const url = await createQueue("attrs", { Attributes: { VisibilityTimeout: "40" } });
    const all = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["All"] })))
      .Attributes;
    assert.equal(all.VisibilityTimeout, "40");
    assert.ok(all.QueueArn.endsWith(":" + qname("attrs")), all.QueueArn);
    await sqs.send(
      new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { VisibilityTimeout: "45", DelaySeconds: "1" } }),
    );
    const some = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["VisibilityTimeout", "DelaySeconds"] }),
    );
    assert.deepEqual(some.Attributes, { VisibilityTimeout: "45", DelaySeconds: "1" });
  });

  test("dead-letter queue: RedrivePolicy round trip, ListDeadLetterSourceQueues", async () => {
    const dlq = await createQueue("dlq");
    const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ["QueueArn"] })))
      .Attributes.QueueArn;
    const policy = { deadLetterTargetArn: dlqArn, maxReceiveCount: 3 };
    const src = await createQueue("dlqsource", { Attributes: { RedrivePolicy: JSON.stringify(policy) } });
    const got = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: src, AttributeNames: ["RedrivePolicy"] }));
    assert.deepEqual(JSON.parse(got.Attributes.RedrivePolicy), policy);
    const sources = await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlq }));
    assert.deepEqual(sources.queueUrls, [src]);
  });

  test("tag, untag, list tags", async () => {
    const url = await createQueue("tags", { tags: { a: "1" } });
    await sqs.send(new TagQueueCommand({ QueueUrl: url, Tags: { b: "2", c: "three" } }));
    assert.deepEqual((await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }))).Tags, {
      a: "1",
      b: "2",
      c: "three",
    });
    await sqs.send(new UntagQueueCommand({ QueueUrl: url, TagKeys: ["a", "c"] }));
    assert.deepEqual((await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }))).Tags, { b: "2" });
  });
});

describe("messages", () => {
  test("send and receive with attributes; digests match", async () => {
    const url = await createQueue("messages");
    const attributes = {
      Name: { DataType: "String", StringValue: 'zoë <&> "quoted"' },
      Count: { DataType: "Number", StringValue: "42" },
      Price: { DataType: "Number.float", StringValue: "3.14" },
      Blob: { DataType: "Binary", BinaryValue: new Uint8Array([0, 1, 0xfe, 0xff, 0x20, 0x62]) },
    };
    const trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";
    const sent = await sqs.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: TRICKY_BODY,
        MessageAttributes: attributes,
        MessageSystemAttributes: { AWSTraceHeader: { DataType: "String", StringValue: trace } },
      }),
    );
    assert.equal(sent.MD5OfMessageSystemAttributes, "5f48eef650c1d0207456969c85af2fdd");
    assert.equal(sent.MD5OfMessageBody, md5Hex(Buffer.from(TRICKY_BODY, "utf8")));
    assert.equal(sent.MD5OfMessageAttributes, md5OfAttributes(attributes));

    const messages = await receiveAll(url);
    assert.equal(messages.length, 1);
    const [msg] = messages;
    assert.equal(msg.MessageId, sent.MessageId);
    assert.equal(msg.Body, TRICKY_BODY);
    assert.equal(msg.MD5OfBody, sent.MD5OfMessageBody);
    assert.deepEqual(Object.keys(msg.MessageAttributes).sort(), Object.keys(attributes).sort());
    assert.equal(msg.MessageAttributes.Name.StringValue, attributes.Name.StringValue);
    assert.equal(msg.MessageAttributes.Price.DataType, "Number.float");
    assert.deepEqual(Buffer.from(msg.MessageAttributes.Blob.BinaryValue), Buffer.from(attributes.Blob.BinaryValue));
    assert.equal(msg.MD5OfMessageAttributes, md5OfAttributes(msg.MessageAttributes));
    assert.equal(msg.MD5OfMessageAttributes, sent.MD5OfMessageAttributes);
    assert.equal(msg.Attributes.ApproximateReceiveCount, "1");
    assert.equal(msg.Attributes.AWSTraceHeader, trace);
    assert.match(msg.Attributes.SentTimestamp, /^\d{13}$/);
    assert.ok(msg.Attributes.SenderId);

    await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: msg.ReceiptHandle }));
    assert.deepEqual(await receiveAll(url, { WaitTimeSeconds: 0 }), []);
  });

  test("long poll without messages returns no Messages", async () => {
    const url = await createQueue("empty");
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 1 }));
    assert.equal(out.Messages, undefined);
  });

  test("send batch, receive, delete batch (one entry failing)", async () => {
    const url = await createQueue("batch");
    const entries = [
      { Id: "first", MessageBody: "batch one ✓", MessageAttributes: { k: { DataType: "String", StringValue: "v1" } } },
      { Id: "second", MessageBody: "batch two <&>\r\n" },
    ];
    const sent = await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }));
    assert.deepEqual(sent.Failed ?? [], []);
    assert.deepEqual(sent.Successful.map((e) => e.Id).sort(), ["first", "second"]);

    const messages = await receiveAll(url);
    assert.deepEqual(messages.map((m) => m.Body).sort(), entries.map((e) => e.MessageBody).sort());

    const del = await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: url,
        Entries: [
          { Id: "good", ReceiptHandle: messages[0].ReceiptHandle },
          { Id: "bogus", ReceiptHandle: "not-a-receipt-handle" },
        ],
      }),
    );
    assert.deepEqual(del.Successful.map((e) => e.Id), ["good"]);
    assert.equal(del.Failed.length, 1);
    assert.equal(del.Failed[0].Id, "bogus");
    assert.equal(del.Failed[0].Code, "ReceiptHandleIsInvalid");
    assert.equal(del.Failed[0].SenderFault, true);
    const rest = await sqs.send(
      new DeleteMessageBatchCommand({ QueueUrl: url, Entries: [{ Id: "rest", ReceiptHandle: messages[1].ReceiptHandle }] }),
    );
    assert.deepEqual(rest.Successful.map((e) => e.Id), ["rest"]);
  });

  test("change message visibility (single and batch)", async () => {
    const url = await createQueue("visibility");
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: "see me twice" }));
    const first = await receiveAll(url, { VisibilityTimeout: 30 });
    assert.equal(first.length, 1);
    assert.deepEqual(await receiveAll(url, { WaitTimeSeconds: 0 }), []);
    await sqs.send(
      new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: first[0].ReceiptHandle, VisibilityTimeout: 0 }),
    );
    const second = await receiveAll(url);
    assert.equal(second.length, 1);
    assert.equal(second[0].MessageId, first[0].MessageId);
    assert.equal(second[0].Attributes.ApproximateReceiveCount, "2");
    const batch = await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: url,
        Entries: [{ Id: "e1", ReceiptHandle: second[0].ReceiptHandle, VisibilityTimeout: 0 }],
      }),
    );
    assert.deepEqual(batch.Successful.map((e) => e.Id), ["e1"]);
    assert.equal((await receiveAll(url)).length, 1);
  });

  test("purge", async () => {
    const url = await createQueue("purge");
    for (let i = 0; i < 3; i++) await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: `purge ${i}` }));
    await sqs.send(new PurgeQueueCommand({ QueueUrl: url }));
    const attrs = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages"] }),
    );
    assert.equal(attrs.Attributes.ApproximateNumberOfMessages, "0");
    assert.deepEqual(await receiveAll(url, { WaitTimeSeconds: 0 }), []);
  });

  test("FIFO: group and deduplication ids, sequence numbers", async () => {
    const name = qname("orders") + ".fifo";
    const { QueueUrl: url } = await sqs.send(
      new CreateQueueCommand({ QueueName: name, Attributes: { FifoQueue: "true" } }),
    );
    created.push(url);
    const one = await sqs.send(
      new SendMessageCommand({ QueueUrl: url, MessageBody: "fifo one", MessageGroupId: "g1", MessageDeduplicationId: "d1" }),
    );
    const two = await sqs.send(
      new SendMessageCommand({ QueueUrl: url, MessageBody: "fifo two", MessageGroupId: "g1", MessageDeduplicationId: "d2" }),
    );
    assert.match(one.SequenceNumber, /^\d+$/);
    assert.ok(BigInt(two.SequenceNumber) > BigInt(one.SequenceNumber));
    const messages = await receiveAll(url);
    assert.deepEqual(messages.map((m) => m.Body), ["fifo one", "fifo two"]);
    assert.equal(messages[0].Attributes.SequenceNumber, one.SequenceNumber);
    assert.equal(messages[0].Attributes.MessageGroupId, "g1");
    assert.equal(messages[0].Attributes.MessageDeduplicationId, "d1");
  });
});

describe("errors", () => {
  test("QueueDoesNotExist is typed and carries the legacy code", async () => {
    const err = await expectError(sqs.send(new GetQueueUrlCommand({ QueueName: "missing-" + RUN_ID })), (e) => {
      assert.ok(e instanceof QueueDoesNotExist, `${e.name}: ${e.message}`);
      assert.ok(e instanceof SQSServiceException);
    });
    assert.equal(err.name, "QueueDoesNotExist");
    assert.equal(err.$metadata.httpStatusCode, 400);
    assert.equal(err.$fault, "client");
    assert.equal(err.Code, NON_EXISTENT, `err.Code (from x-amzn-query-error): ${err.Code}`);
    assert.equal(err.Type, "Sender");
    const missingUrl = `${ENDPOINT}/000000000000/missing-${RUN_ID}`;
    await expectError(sqs.send(new SendMessageCommand({ QueueUrl: missingUrl, MessageBody: "nowhere" })), (e) =>
      assert.ok(e instanceof QueueDoesNotExist, `${e.name}: ${e.message}`),
    );
  });

  test("batch errors: empty batch, duplicate ids, per-entry failure", async () => {
    const url = await createQueue("batcherr");
    await expectError(sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: [] })), (e) =>
      assert.ok(e instanceof EmptyBatchRequest, `${e.name}: ${e.message}`),
    );
    await expectError(
      sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: url,
          Entries: [
            { Id: "same", MessageBody: "a" },
            { Id: "same", MessageBody: "b" },
          ],
        }),
      ),
      (e) => assert.ok(e instanceof BatchEntryIdsNotDistinct, `${e.name}: ${e.message}`),
    );
    const out = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: [
          { Id: "ok", MessageBody: "fine" },
          { Id: "bad", MessageBody: "control char \u0001 is not allowed" },
        ],
      }),
    );
    assert.deepEqual(out.Successful.map((e) => e.Id), ["ok"]);
    assert.equal(out.Failed.length, 1);
    assert.equal(out.Failed[0].Code, "InvalidMessageContents");
  });

  test("invalid parameter value (MaxNumberOfMessages=11)", async () => {
    const url = await createQueue("invalid");
    const err = await expectError(
      sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 11 })),
      (e) => assert.ok(e instanceof SQSServiceException, `${e.name}: ${e.message}`),
    );
    assert.equal(err.$metadata.httpStatusCode, 400);
    assert.ok(
      err.name === "InvalidParameterValue" || err.Code === "InvalidParameterValue",
      `name ${err.name}, Code ${err.Code}: ${err.message}`,
    );
  });
});

describe("regions", () => {
  // A client configured for eu-west-1 signs for eu-west-1; its queues are invisible to us-east-1 clients
  // (docs/aws-behaviour.md, "Regions").
  test("a queue created in eu-west-1 is invisible in us-east-1", async () => {
    const ireland = makeClient({ region: "eu-west-1" });
    const name = qname("regional");
    const { QueueUrl } = await ireland.send(new CreateQueueCommand({ QueueName: name }));
    try {
      const attrs = await ireland.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }));
      assert.match(attrs.Attributes.QueueArn, new RegExp(`^arn:aws:sqs:eu-west-1:\\d{12}:${name}$`));
      await expectError(sqs.send(new GetQueueUrlCommand({ QueueName: name })), (e) =>
        assert.ok(e instanceof QueueDoesNotExist, `${e.name}: ${e.message}`),
      );
      const listed = (await sqs.send(new ListQueuesCommand({ QueueNamePrefix: name }))).QueueUrls ?? [];
      assert.deepEqual(listed, []);
      const mine = (await ireland.send(new ListQueuesCommand({ QueueNamePrefix: name }))).QueueUrls ?? [];
      assert.deepEqual(mine, [QueueUrl]);
    } finally {
      await ireland.send(new DeleteQueueCommand({ QueueUrl }));
    }
  });
});
