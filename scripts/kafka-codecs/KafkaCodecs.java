// Kafka's own record code (kafka-clients 4.4) on both sides of Fjord's codecs:
//
//   write DIR                       one batch per codec, as Kafka's producer builds it
//                                   (MemoryRecordsBuilder), into DIR/kafka-<codec>.bin
//   read CODEC BASE_OFFSET FILE...  reads each FILE (a batch file or a segment) with
//                                   FileRecords, checks every batch's CRC and codec and
//                                   every record against the sample records, offsets
//                                   from BASE_OFFSET on; prints "CODEC BATCHES RECORDS"
//
// The sample records: record i of 400 (test/kafka-codecs.test.ts builds the same).
import java.io.File;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.record.internal.FileRecords;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MemoryRecordsBuilder;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;

public final class KafkaCodecs {
    static final int COUNT = 400;
    static final long BASE_TIMESTAMP = 1_700_000_000_000L;
    static final String[] CODECS = {"gzip", "snappy", "lz4", "zstd"};

    static byte[] utf8(String s) {
        return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
    }

    static String key(int i) {
        return i % 5 == 4 ? null : "key-" + i;
    }

    static String value(int i) {
        return i % 7 == 6 ? null : ("value " + i + " ").repeat(1 + i % 40);
    }

    static long timestamp(int i) {
        return BASE_TIMESTAMP + 13L * i;
    }

    static Header[] headers(int i) {
        switch (i % 3) {
            case 0: return new Header[0];
            case 1: return new Header[] {new RecordHeader("h", utf8("v" + i))};
            default: return new Header[] {new RecordHeader("h", utf8("v" + i)), new RecordHeader("h", utf8("w" + i)), new RecordHeader("n", null)};
        }
    }

    static Compression compression(String codec) {
        return Compression.of(codec).build();
    }

    public static void main(String[] args) throws Exception {
        if (args.length >= 2 && args[0].equals("write")) write(new File(args[1]));
        else if (args.length >= 4 && args[0].equals("read")) read(args[1], Long.parseLong(args[2]), Arrays.copyOfRange(args, 3, args.length));
        else {
            System.err.println("usage: write DIR | read CODEC BASE_OFFSET FILE...");
            System.exit(2);
        }
    }

    static void write(File dir) throws Exception {
        dir.mkdirs();
        for (String codec : CODECS) {
            MemoryRecordsBuilder builder = MemoryRecords.builder(ByteBuffer.allocate(1 << 20), compression(codec), TimestampType.CREATE_TIME, 1000L);
            for (int i = 0; i < COUNT; i++) builder.appendWithOffset(1000L + i, timestamp(i), utf8(key(i)), utf8(value(i)), headers(i));
            MemoryRecords records = builder.build();
            ByteBuffer buffer = records.buffer();
            byte[] bytes = new byte[buffer.remaining()];
            buffer.get(bytes);
            Files.write(new File(dir, "kafka-" + codec + ".bin").toPath(), bytes);
            System.out.println(codec + " " + bytes.length);
        }
    }

    static void read(String codec, long baseOffset, String[] files) throws Exception {
        int batches = 0;
        int i = 0;
        for (String path : files) {
            try (FileRecords records = FileRecords.open(new File(path), false)) {
                for (RecordBatch batch : records.batches()) {
                    batch.ensureValid();
                    check(batch.magic() == RecordBatch.MAGIC_VALUE_V2, "batch at offset " + batch.baseOffset() + " has magic " + batch.magic());
                    check(batch.compressionType().name.equals(codec), "batch at offset " + batch.baseOffset() + " is " + batch.compressionType().name + ", not " + codec);
                    batches++;
                    for (Record record : batch) {
                        String where = "record " + i + " (" + codec + ")";
                        check(record.offset() == baseOffset + i, where + ": offset " + record.offset());
                        check(record.timestamp() == timestamp(i), where + ": timestamp " + record.timestamp());
                        check(Arrays.equals(bytes(record.key()), utf8(key(i))), where + ": key differs");
                        check(Arrays.equals(bytes(record.value()), utf8(value(i))), where + ": value differs");
                        Header[] expected = headers(i);
                        Header[] actual = record.headers();
                        check(actual.length == expected.length, where + ": " + actual.length + " headers");
                        for (int h = 0; h < expected.length; h++) {
                            check(actual[h].key().equals(expected[h].key()), where + ": header " + h + " is " + actual[h].key());
                            check(Arrays.equals(actual[h].value(), expected[h].value()), where + ": header " + h + " value differs");
                        }
                        i++;
                    }
                }
            }
        }
        check(i == COUNT, "read " + i + " records, expected " + COUNT);
        System.out.println(codec + " " + batches + " " + i);
    }

    static byte[] bytes(ByteBuffer buffer) {
        if (buffer == null) return null;
        byte[] out = new byte[buffer.remaining()];
        buffer.duplicate().get(out);
        return out;
    }

    static void check(boolean ok, String message) {
        if (!ok) throw new AssertionError(message);
    }
}
