//! The pipeline of `parley simulate` on the runtime's synchronous driver: which stage reads
//! which topic, each stage the one `parley run` runs.

use anyhow::Context;
use parley_core::routing::RoutingConfig;
use parley_core::Timestamp;
use parley_ingress::stage::{IngressStageConfig, NormaliserStage};
use parley_ingress::IngressConfig;
use parley_routing::{AccountConfigs, QueueTable, RouterCodecs, RouterProcessor, RouterTables};
use parley_runtime::codec::AvroCodec;
use parley_runtime::driver::{Driver, KeyedStage, StatelessStage, TableStage};
use parley_tickets::sla_tables::{ScheduleRecords, SlaPolicyRecords};
use parley_tickets::{SlaTables, StyleRecords, TicketCodecs, TicketProcessor};
use std::path::Path;
use std::sync::Arc;

/// The topic prefix of a simulation: none, so topics have their plain names.
pub(crate) const PREFIX: &str = "";

/// The pipeline at `start` with `partitions` partitions per topic, its sled stores under
/// `state_dir`: ingress on `raw.<channel>`, the style table on `style-config`, the ticket
/// processor on its inputs, then the router on its inputs (timers due together fire in that
/// order), every codec Avro single-object as without a schema registry.
pub(crate) fn pipeline(
    state_dir: &Path,
    partitions: i32,
    start: Timestamp,
    routing: RoutingConfig,
    ingress: IngressConfig,
) -> anyhow::Result<Driver> {
    let dlq_topic = format!("{PREFIX}dlq");
    let mut driver = Driver::new(partitions, start);

    let mut ingress_config = IngressStageConfig::new("");
    ingress_config.topic_prefix = PREFIX.to_owned();
    ingress_config.ingress = ingress;
    let normaliser = NormaliserStage::new(&ingress_config);
    driver.add_stage(
        &normaliser.topics(),
        Box::new(StatelessStage::new(normaliser)),
    )?;

    let tickets = Arc::new(parley_tickets::topics(PREFIX));
    let style_stage = TableStage::new(
        StyleRecords::new(AvroCodec::single_object()),
        dlq_topic.clone(),
    );
    let styles = style_stage.table();
    driver.add_stage(
        std::slice::from_ref(&tickets.style_config),
        Box::new(style_stage),
    )?;

    let schedules_stage = TableStage::new(
        ScheduleRecords::new(AvroCodec::single_object()),
        dlq_topic.clone(),
    );
    let policies_stage = TableStage::new(
        SlaPolicyRecords::new(AvroCodec::single_object()),
        dlq_topic.clone(),
    );
    let sla = SlaTables::new(schedules_stage.table(), policies_stage.table());
    driver.add_stage(
        std::slice::from_ref(&tickets.schedules),
        Box::new(schedules_stage),
    )?;
    driver.add_stage(
        std::slice::from_ref(&tickets.sla_policies),
        Box::new(policies_stage),
    )?;

    let codecs = Arc::new(TicketCodecs::single_object());
    let inputs = tickets.inputs();
    let stage = KeyedStage::new(state_dir.join("tickets"), dlq_topic.clone(), move |_| {
        TicketProcessor::new(tickets.clone(), codecs.clone(), styles.clone(), sla.clone())
    });
    driver
        .add_stage(&inputs, Box::new(stage))
        .context("the ticket processor's state")?;

    let router = Arc::new(parley_routing::topics(PREFIX));
    let codecs = Arc::new(RouterCodecs::single_object());
    let accounts_stage = TableStage::new(
        AccountConfigs::new(routing, codecs.routing_config.clone()),
        dlq_topic.clone(),
    );
    let queues_stage = TableStage::new(
        QueueTable::new(codecs.routing_queues.clone()),
        dlq_topic.clone(),
    );
    let tables = RouterTables {
        configs: accounts_stage.table(),
        queues: queues_stage.table(),
    };
    driver.add_stage(
        std::slice::from_ref(&router.routing_config),
        Box::new(accounts_stage),
    )?;
    driver.add_stage(
        std::slice::from_ref(&router.routing_queues),
        Box::new(queues_stage),
    )?;
    let inputs = router.inputs();
    let stage = KeyedStage::new(state_dir.join("router"), dlq_topic, move |_| {
        RouterProcessor::new(router.clone(), codecs.clone(), tables.clone())
    });
    driver
        .add_stage(&inputs, Box::new(stage))
        .context("the router's state")?;
    Ok(driver)
}
