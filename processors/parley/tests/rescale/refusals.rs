//! What `parley rescale` refuses: M not above N, counts that are neither N nor M, a group
//! with active members, unprocessed input.

use super::*;

#[test]
fn a_rescale_is_refused_for_counts_active_members_and_unprocessed_input() {
    let Some(broker) = Kafka::single("rescale_refusals") else {
        return;
    };
    let brokers = broker.bootstrap_servers();
    let brokers = brokers.as_str();
    assert!(
        parley(brokers, &["topics", "create", "--partitions", "2"], &[])
            .status
            .success()
    );

    refused(
        &parley(brokers, &["rescale", "--partitions", "1"], &[]),
        &["--partitions = 1", "greater than 2"],
    );
    refused(
        &parley(brokers, &["rescale", "--partitions", "2"], &[]),
        &["--partitions = 2", "already has 2 partitions"],
    );

    // A member of parley-tickets.
    let member: BaseConsumer = client(brokers)
        .set("group.id", "parley-tickets")
        .set("client.id", "tickets-7")
        .create()
        .unwrap();
    member.subscribe(&["parley.conversation-events"]).unwrap();
    assert!(parley_testkit::wait_for(Duration::from_secs(30), || {
        let _ = member.poll(Duration::from_millis(100));
        member.assignment().is_ok_and(|a| a.count() > 0)
    }));
    refused(
        &parley(brokers, &["rescale", "--partitions", "4", "--dry-run"], &[]),
        &["parley-tickets", "tickets-7", "active members"],
    );
    drop(member);
    groups_empty(brokers);

    // An input record no tickets instance has processed.
    parley_testkit::produce_raw(brokers, "parley.conversation-events", &[("acme/c1", b"x")]);
    let partition = partition_of(b"acme/c1", 2);
    refused(
        &parley(brokers, &["rescale", "--partitions", "4"], &[]),
        &[
            "group parley-tickets has not processed",
            &format!("parley.conversation-events partition {partition}"),
        ],
    );

    // A count that is neither N nor M.
    let admin: rdkafka::admin::AdminClient<_> = client(brokers).create().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(admin.create_partitions(
            &[rdkafka::admin::NewPartitions::new(
                "parley.agent-actions",
                3,
            )],
            &rdkafka::admin::AdminOptions::new(),
        ))
        .unwrap();
    refused(
        &parley(brokers, &["rescale", "--partitions", "4"], &[]),
        &["parley.agent-actions = 3", "parley.conversation-events = 2"],
    );
    assert_eq!(
        parley_testkit::partition_count(brokers, "parley.conversation-events"),
        2,
        "nothing was changed"
    );
}
