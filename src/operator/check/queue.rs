//! A subscriber's checks: the queue, its settings and its dead-letter queue, and one message
//! received and made visible again at once.

use super::Report;
use crate::aws::{classify, Clients};
use aws_sdk_sqs::types::QueueAttributeName;

pub async fn checks(clients: &Clients, name: &str, report: &mut Report) {
    let sqs = clients.sqs();
    let region = clients.region();
    let url = match sqs.get_queue_url().queue_name(name).send().await {
        Ok(out) => {
            let url = out.queue_url().unwrap_or_default().to_string();
            report.ok("queue", format!("{name}: {url}"));
            url
        }
        Err(e) => {
            report.failed(
                "queue",
                classify("GetQueueUrl", &e).text,
                format!(
                    "check --queue: the queue is looked up in {region}, the profile's region \
                     (set region in ~/.aws/config); the identity needs sqs:GetQueueUrl"
                ),
            );
            for check in ["queue settings", "receive"] {
                report.skipped(check, "needs the queue");
            }
            return;
        }
    };
    settings(&sqs, &url, report).await;
    receive(&sqs, &url, report).await;
}

async fn settings(sqs: &aws_sdk_sqs::Client, url: &str, report: &mut Report) {
    const CHECK: &str = "queue settings";
    let out = match sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => {
            report.failed(
                CHECK,
                classify("GetQueueAttributes", &e).text,
                "allow sqs:GetQueueAttributes on the queue",
            );
            return;
        }
    };
    let attribute = |name: QueueAttributeName| {
        out.attributes()
            .and_then(|a| a.get(&name))
            .cloned()
            .unwrap_or_default()
    };
    let visibility = attribute(QueueAttributeName::VisibilityTimeout);
    let waiting = attribute(QueueAttributeName::ApproximateNumberOfMessages);
    let in_flight = attribute(QueueAttributeName::ApproximateNumberOfMessagesNotVisible);
    let found = format!(
        "visibility timeout {visibility} s, about {waiting} messages waiting and {in_flight} in \
         flight"
    );
    let redrive = attribute(QueueAttributeName::RedrivePolicy);
    let policy: Option<serde_json::Value> = serde_json::from_str(&redrive).ok();
    let target = policy
        .as_ref()
        .and_then(|p| p.get("deadLetterTargetArn"))
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let Some(target) = target else {
        report.failed(
            CHECK,
            format!("{found}; no redrive policy"),
            "give the queue a dead-letter queue (RedrivePolicy with deadLetterTargetArn and \
             maxReceiveCount, e.g. 5): without one, a message whose object cannot be read \
             comes back after every visibility timeout, for as long as the queue keeps it",
        );
        return;
    };
    let receives = policy
        .as_ref()
        .and_then(|p| p.get("maxReceiveCount"))
        .map(|v| v.to_string().trim_matches('"').to_string())
        .unwrap_or_else(|| "?".into());
    let dlq_name = target.rsplit(':').next().unwrap_or_default();
    let dlq = sqs.get_queue_url().queue_name(dlq_name);
    let dlq = match target.split(':').nth(4) {
        Some(owner) if !owner.is_empty() => dlq.queue_owner_aws_account_id(owner),
        _ => dlq,
    };
    match dlq.send().await {
        Ok(_) => report.ok(
            CHECK,
            format!("{found}; dead-letter queue {target} after {receives} receives"),
        ),
        Err(e) => report.failed(
            CHECK,
            format!(
                "{found}; the redrive policy names {target}, which cannot be found: {}",
                classify("GetQueueUrl", &e).text
            ),
            "create the dead-letter queue, or point the redrive policy at one that exists",
        ),
    }
}

/// One message received and given back at once (its receive count goes up by one).
async fn receive(sqs: &aws_sdk_sqs::Client, url: &str, report: &mut Report) {
    const CHECK: &str = "receive";
    let out = match sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(1)
        .wait_time_seconds(1)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => {
            report.failed(
                CHECK,
                classify("ReceiveMessage", &e).text,
                "allow sqs:ReceiveMessage, sqs:ChangeMessageVisibility and sqs:DeleteMessage \
                 on the queue (and kms:Decrypt on its key, if it is encrypted with one)",
            );
            return;
        }
    };
    let Some(message) = out.messages().first() else {
        report.ok(CHECK, "the queue is empty: nothing received");
        return;
    };
    let handle = message.receipt_handle().unwrap_or_default();
    match sqs
        .change_message_visibility()
        .queue_url(url)
        .receipt_handle(handle)
        .visibility_timeout(0)
        .send()
        .await
    {
        Ok(_) => report.ok(
            CHECK,
            "one message received and made visible again (one receive counted toward the \
             redrive policy)",
        ),
        Err(e) => report.failed(
            CHECK,
            format!(
                "received one message but could not give it back: {}",
                classify("ChangeMessageVisibility", &e).text
            ),
            "allow sqs:ChangeMessageVisibility on the queue; the message comes back after its \
             visibility timeout",
        ),
    }
}
