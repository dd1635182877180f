// Writes the records of test/fixtures/kafka-4.4-logdir through a running Kafka 4.4
// broker, then reads them back with Kafka's own consumer under both isolation
// levels and writes everything to a JSON manifest (the judge Fjord's tests use).
// Run by make-fixture.sh: java Fixture <bootstrap> <manifest.json>
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class Fixture {
  static final long BASE_TIME = 1767225600000L; // 2026-01-01T00:00:00Z
  static final String GROUP = "fixture-group";
  static final List<String> CODECS = List.of("none", "gzip", "snappy", "lz4", "zstd");

  final String bootstrap;
  final List<Map<String, Object>> produced = new ArrayList<>();
  final Map<String, Integer> partitionsByTopic = new TreeMap<>();
  int counter = 0;

  Fixture(String bootstrap) {
    this.bootstrap = bootstrap;
  }

  public static void main(String[] args) throws Exception {
    Fixture fixture = new Fixture(args[0]);
    Map<String, Object> manifest = fixture.run();
    Files.writeString(Path.of(args[1]), new ObjectMapper().writeValueAsString(manifest) + "\n"); // compact: the fixture stays small
    System.exit(0); // the open transaction's producer is left as it is: never committed, never aborted
  }

  static String b64(byte[] bytes) {
    return bytes == null ? null : Base64.getEncoder().encodeToString(bytes);
  }

  static byte[] utf8(String s) {
    return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
  }

  Map<String, Object> run() throws Exception {
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
      List<NewTopic> topics = new ArrayList<>();
      for (String codec : CODECS) {
        // segment.bytes has a 1 MiB floor; segment.ms rolls on record timestamps
        // (CreateTime, 1 s apart per record), so every partition gets rolled segments.
        topics.add(topic("k-" + codec, 2, Map.of("compression.type", "producer", "segment.ms", "20000")));
      }
      topics.add(topic("k-logappend", 1, Map.of("message.timestamp.type", "LogAppendTime")));
      topics.add(topic("k-txn", 3, Map.of("segment.ms", "20000")));
      admin.createTopics(topics).all().get();

      for (String codec : CODECS) produceCodec(codec);
      produceLogAppendTime();
      Map<String, Object> openTxn = produceTransactions();
      Map<String, Object> group = commitGroupOffsets(admin);

      Map<String, Object> manifest = new LinkedHashMap<>();
      manifest.put("kafkaVersion", org.apache.kafka.common.utils.internals.AppInfoParser.getVersion());
      manifest.put("baseTimestamp", BASE_TIME);
      manifest.put("topics", topicDescriptions(admin));
      manifest.put("metadataTopics", new TreeSet<>(admin.listTopics(new ListTopicsOptions().listInternal(true)).names().get()));
      manifest.put("openTransaction", openTxn);
      manifest.put("produced", produced);
      manifest.put("group", group);
      Map<String, Object> consumed = new LinkedHashMap<>();
      consumed.put("read_committed", consumeAll("read_committed"));
      consumed.put("read_uncommitted", consumeAll("read_uncommitted"));
      manifest.put("consumed", consumed);
      return manifest;
    }
  }

  NewTopic topic(String name, int partitions, Map<String, String> configs) {
    partitionsByTopic.put(name, partitions);
    return new NewTopic(name, partitions, (short) 1).configs(configs);
  }

  List<Map<String, Object>> topicDescriptions(Admin admin) throws Exception {
    List<Map<String, Object>> out = new ArrayList<>();
    Map<String, TopicDescription> described = admin.describeTopics(partitionsByTopic.keySet()).allTopicNames().get();
    for (String name : partitionsByTopic.keySet()) {
      TopicDescription d = described.get(name);
      Map<String, Object> t = new LinkedHashMap<>();
      t.put("name", name);
      t.put("topicId", d.topicId().toString());
      t.put("partitions", d.partitions().size());
      out.add(t);
    }
    return out;
  }

  Properties producerProps() {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.LINGER_MS_CONFIG, "20");
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    return p;
  }

  /** Record n: a key (null every 7th), a value (null every 11th), headers on some (a repeated name, a null value). */
  ProducerRecord<byte[], byte[]> record(String topic, int partition, boolean timestamped) {
    int n = counter++;
    byte[] key = n % 7 == 3 ? null : utf8("key-" + n);
    byte[] value = n % 11 == 5 ? null : utf8("value-" + n + " " + "fjord ".repeat(n % 4));
    RecordHeaders headers = new RecordHeaders();
    if (n % 5 == 1) {
      headers.add("trace", utf8("t-" + n));
      headers.add("empty", new byte[0]);
    }
    if (n % 13 == 2) {
      headers.add("dup", utf8("first"));
      headers.add("dup", utf8("second"));
      headers.add("nil", null);
    }
    Long timestamp = timestamped ? BASE_TIME + n * 1000L : null;
    return new ProducerRecord<>(topic, partition, timestamp, key, value, headers);
  }

  void note(ProducerRecord<byte[], byte[]> r, RecordMetadata m, String transaction) {
    Map<String, Object> e = new LinkedHashMap<>();
    e.put("topic", m.topic());
    e.put("partition", m.partition());
    e.put("offset", m.offset());
    e.put("key", b64(r.key()));
    e.put("value", b64(r.value()));
    e.put("headers", headers(r.headers()));
    e.put("timestamp", m.timestamp());
    e.put("transaction", transaction); // null, or "committed", "aborted", "open"
    e.put("aborted", "aborted".equals(transaction));
    produced.add(e);
  }

  static List<List<String>> headers(Iterable<Header> headers) {
    List<List<String>> out = new ArrayList<>();
    for (Header h : headers) out.add(Arrays.asList(h.key(), b64(h.value())));
    return out;
  }

  /** Sends and remembers each record; flushes so that each call makes at least one batch. */
  List<Map.Entry<ProducerRecord<byte[], byte[]>, java.util.concurrent.Future<RecordMetadata>>> send(
      Producer<byte[], byte[]> producer, List<ProducerRecord<byte[], byte[]>> records) {
    List<Map.Entry<ProducerRecord<byte[], byte[]>, java.util.concurrent.Future<RecordMetadata>>> sent = new ArrayList<>();
    for (ProducerRecord<byte[], byte[]> r : records) sent.add(Map.entry(r, producer.send(r)));
    producer.flush();
    return sent;
  }

  void noteAll(List<Map.Entry<ProducerRecord<byte[], byte[]>, java.util.concurrent.Future<RecordMetadata>>> sent, String transaction)
      throws ExecutionException, InterruptedException {
    for (var e : sent) note(e.getKey(), e.getValue().get(), transaction);
  }

  void produceCodec(String codec) throws Exception {
    Properties p = producerProps();
    p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
    try (Producer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
      String topic = "k-" + codec;
      for (int burst = 0; burst < 12; burst++) {
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        for (int i = 0; i < 10; i++) records.add(record(topic, (burst + i) % 2, true));
        noteAll(send(producer, records), null);
      }
    }
  }

  void produceLogAppendTime() throws Exception {
    try (Producer<byte[], byte[]> producer = new KafkaProducer<>(producerProps())) {
      for (int burst = 0; burst < 4; burst++) {
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        for (int i = 0; i < 5; i++) records.add(record("k-logappend", 0, true));
        noteAll(send(producer, records), null);
        Thread.sleep(5); // distinct append times per batch
      }
    }
  }

  KafkaProducer<byte[], byte[]> transactional(String id) {
    Properties p = producerProps();
    p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, id);
    p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "900000"); // the open transaction must outlive the run
    KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p);
    producer.initTransactions();
    return producer;
  }

  List<ProducerRecord<byte[], byte[]>> txnRecords(int count, int firstPartition) {
    List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
    for (int i = 0; i < count; i++) records.add(record("k-txn", (firstPartition + i) % 3, true));
    return records;
  }

  /**
   * Two transactional producers interleave on the three partitions of k-txn, with
   * plain records between them; some transactions commit, some abort. Last, a third
   * producer leaves a transaction open on partition 2, followed by plain records.
   */
  Map<String, Object> produceTransactions() throws Exception {
    try (Producer<byte[], byte[]> plain = new KafkaProducer<>(producerProps());
        KafkaProducer<byte[], byte[]> a = transactional("fixture-txn-a");
        KafkaProducer<byte[], byte[]> b = transactional("fixture-txn-b")) {
      for (int round = 0; round < 8; round++) {
        a.beginTransaction();
        var aSent = send(a, txnRecords(4, round));
        b.beginTransaction();
        var bSent = send(b, txnRecords(3, round + 1));
        noteAll(send(plain, txnRecords(3, 0)), null);
        aSent.addAll(send(a, txnRecords(2, round + 2)));
        boolean abortA = round % 2 == 0;
        boolean abortB = round % 3 == 0;
        if (abortA) a.abortTransaction(); else a.commitTransaction();
        noteAll(aSent, abortA ? "aborted" : "committed");
        if (abortB) b.abortTransaction(); else b.commitTransaction();
        noteAll(bSent, abortB ? "aborted" : "committed");
      }
      KafkaProducer<byte[], byte[]> open = transactional("fixture-txn-open");
      open.beginTransaction();
      List<ProducerRecord<byte[], byte[]>> openRecords = new ArrayList<>();
      for (int i = 0; i < 3; i++) openRecords.add(record("k-txn", 2, true));
      var openSent = send(open, openRecords);
      noteAll(openSent, "open");
      List<ProducerRecord<byte[], byte[]>> after = new ArrayList<>();
      for (int i = 0; i < 2; i++) after.add(record("k-txn", 2, true));
      noteAll(send(plain, after), null);
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("transactionalId", "fixture-txn-open");
      out.put("topic", "k-txn");
      out.put("partition", 2);
      out.put("firstOffset", openSent.get(0).getValue().get().offset());
      return out;
    }
  }

  /** A group that joins, then commits chosen offsets (midway through some partitions) and leaves. */
  Map<String, Object> commitGroupOffsets(Admin admin) throws Exception {
    Properties p = consumerProps("read_committed");
    p.put(ConsumerConfig.GROUP_ID_CONFIG, GROUP);
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    Map<TopicPartition, OffsetAndMetadata> offsets = new LinkedHashMap<>();
    offsets.put(new TopicPartition("k-none", 0), new OffsetAndMetadata(17, "fixture"));
    offsets.put(new TopicPartition("k-none", 1), new OffsetAndMetadata(5));
    offsets.put(new TopicPartition("k-gzip", 0), new OffsetAndMetadata(30));
    offsets.put(new TopicPartition("k-logappend", 0), new OffsetAndMetadata(20));
    offsets.put(new TopicPartition("k-txn", 1), new OffsetAndMetadata(12));
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
      consumer.subscribe(List.of("k-none", "k-gzip", "k-logappend", "k-txn"));
      long deadline = System.currentTimeMillis() + 60000;
      while (consumer.assignment().isEmpty()) {
        if (System.currentTimeMillis() > deadline) throw new IllegalStateException("no assignment");
        consumer.poll(Duration.ofMillis(100));
      }
      consumer.commitSync(offsets);
    }
    Map<String, Object> group = new LinkedHashMap<>();
    group.put("groupId", GROUP);
    List<Map<String, Object>> committed = new ArrayList<>();
    Map<TopicPartition, OffsetAndMetadata> read = admin.listConsumerGroupOffsets(GROUP).partitionsToOffsetAndMetadata().get();
    for (var e : new TreeMap<TopicPartition, OffsetAndMetadata>(Comparator.comparing(TopicPartition::toString)) {{ putAll(read); }}.entrySet()) {
      Map<String, Object> c = new LinkedHashMap<>();
      c.put("topic", e.getKey().topic());
      c.put("partition", e.getKey().partition());
      c.put("offset", e.getValue().offset());
      c.put("metadata", e.getValue().metadata());
      c.put("leaderEpoch", e.getValue().leaderEpoch().orElse(null));
      committed.add(c);
    }
    group.put("committed", committed);
    return group;
  }

  Properties consumerProps(String isolation) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    return p;
  }

  /** Every record Kafka's consumer returns from the start of each partition to its end offset (the LSO under read_committed). */
  Map<String, Object> consumeAll(String isolation) {
    List<Map<String, Object>> records = new ArrayList<>();
    List<Map<String, Object>> ends = new ArrayList<>();
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(consumerProps(isolation))) {
      List<TopicPartition> all = new ArrayList<>();
      for (var e : partitionsByTopic.entrySet()) for (int p = 0; p < e.getValue(); p++) all.add(new TopicPartition(e.getKey(), p));
      consumer.assign(all);
      consumer.seekToBeginning(all);
      Map<TopicPartition, Long> endOffsets = consumer.endOffsets(all);
      long deadline = System.currentTimeMillis() + 60000;
      while (all.stream().anyMatch(tp -> consumer.position(tp) < endOffsets.get(tp))) {
        if (System.currentTimeMillis() > deadline) throw new IllegalStateException("consume did not reach the end offsets");
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
          Map<String, Object> e = new LinkedHashMap<>();
          e.put("topic", r.topic());
          e.put("partition", r.partition());
          e.put("offset", r.offset());
          e.put("key", b64(r.key()));
          e.put("value", b64(r.value()));
          e.put("headers", headers(r.headers()));
          e.put("timestamp", r.timestamp());
          e.put("timestampType", r.timestampType().name);
          records.add(e);
        }
      }
      for (TopicPartition tp : all) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("topic", tp.topic());
        e.put("partition", tp.partition());
        e.put("endOffset", endOffsets.get(tp));
        e.put("position", consumer.position(tp));
        ends.add(e);
      }
    }
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("isolationLevel", isolation);
    out.put("endOffsets", ends);
    out.put("records", records);
    return out;
  }
}
