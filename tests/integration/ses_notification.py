#!/usr/bin/env python3
"""ses_notification.py KEY SOURCE RCPT[,RCPT...] BUCKET - an SQS message body
as SES and SNS make it when SES stores a received mail in s3://BUCKET/KEY:
the documented SES "Received" notification (notificationType, mail,
receipt with an S3 action) inside the SNS "Notification" envelope. The SES
message id is KEY. Printed on stdout. Used by the ingest tests, the demo and
the ingest benchmark.
"""
import json
import sys
import uuid

key, source, rcpts, bucket = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4]
topic = "arn:aws:sns:us-east-1:123456789012:inbound-mail"
ses = {"notificationType": "Received",
       "mail": {"timestamp": "2026-11-22T10:00:00.000Z", "source": source, "messageId": key,
                "destination": rcpts, "headersTruncated": False,
                "commonHeaders": {"from": [source], "to": rcpts, "subject": key}},
       "receipt": {"timestamp": "2026-11-22T10:00:00.000Z", "processingTimeMillis": 10,
                   "recipients": rcpts, "spamVerdict": {"status": "PASS"}, "virusVerdict": {"status": "PASS"},
                   "action": {"type": "S3", "topicArn": topic, "bucketName": bucket, "objectKey": key}}}
print(json.dumps({"Type": "Notification", "MessageId": str(uuid.uuid4()), "TopicArn": topic,
                  "Subject": "Amazon SES Email Receipt Notification", "Message": json.dumps(ses),
                  "Timestamp": "2026-11-22T10:00:00.000Z", "SignatureVersion": "1", "Signature": "x",
                  "SigningCertURL": "https://sns.us-east-1.amazonaws.com/x.pem", "UnsubscribeURL": "https://x"}))
