package io.ringway.vhost.protocol;

import static io.ringway.vhost.protocol.TestMessages.encode;
import static io.ringway.vhost.protocol.TestMessages.segment;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * Hostile input: random bytes, and random mutations of valid messages, never make decode throw
 * anything but {@link VhostUserProtocolException}, never hang, and never lose an fd. Deterministic
 * seed, bounded iterations.
 */
class VhostUserCodecFuzzTest {

    private static final long SEED = 0x5eed_2026_1126L;
    private static final int ITERATIONS = 60_000;

    private final VhostUserCodec codec = new VhostUserCodec(8);
    private final List<byte[]> corpus = validMessages();

    @Test
    void randomBytesAndMutationsOfValidMessagesOnlyEverFailWithAProtocolError() {
        assertTimeoutPreemptively(Duration.ofSeconds(5), () -> {
            SplittableRandom random = new SplittableRandom(SEED);
            int accepted = 0;
            for (int i = 0; i < ITERATIONS; i++) {
                byte[] input = switch (i % 3) {
                    case 0 -> randomBytes(random);
                    case 1 -> randomHeaderForKnownRequest(random);
                    default -> mutate(random, corpus.get(random.nextInt(corpus.size())));
                };
                int[] fds = IntStream.range(0, random.nextInt(10)).map(n -> 1000 + n).toArray();
                if (decodeChecked(input, fds)) {
                    accepted++;
                }
            }
            // The mutations must reach the payload rules, not just bounce off the header.
            assertTrue(accepted > ITERATIONS / 100, "accepted only " + accepted);
        });
    }

    /** Returns whether the input was accepted; fails the test on any other outcome than the two allowed. */
    private boolean decodeChecked(byte[] input, int[] fds) {
        MemorySegment segment = segment(input);
        try {
            VhostUserMessage message = codec.decode(segment, input.length, fds, fds.length);
            int[] kept = message.fds();
            int[] discarded = message.discardedFds();
            int[] all = Arrays.copyOf(kept, kept.length + discarded.length);
            System.arraycopy(discarded, 0, all, kept.length, discarded.length);
            assertArrayEquals(fds, all, "every fd is either kept or discarded");
            // An accepted message encodes, and decodes again to the same value.
            VhostUserMessage toSend = new VhostUserMessage(message.request(), message.flags(), message.payload(),
                    kept, new int[0]);
            byte[] again = encode(codec, toSend);
            assertEquals(toSend, codec.decode(segment(again), again.length, kept, kept.length));
            return true;
        } catch (VhostUserProtocolException rejected) {
            assertArrayEquals(fds, rejected.fdsToClose(), "every fd of a rejected message is handed back");
            return false;
        } catch (RuntimeException | Error unexpected) {
            if (unexpected instanceof org.opentest4j.AssertionFailedError) {
                throw unexpected;
            }
            fail("decode threw " + unexpected + " for " + java.util.HexFormat.of().formatHex(input), unexpected);
            return false;
        }
    }

    private static byte[] randomBytes(SplittableRandom random) {
        byte[] bytes = new byte[random.nextInt(300)];
        random.nextBytes(bytes);
        return bytes;
    }

    private static byte[] randomHeaderForKnownRequest(SplittableRandom random) {
        VhostUserRequest request = VhostUserRequest.values()[random.nextInt(VhostUserRequest.values().length)];
        int flags = 0x1 | (random.nextBoolean() ? 0x4 : 0) | (random.nextBoolean() ? 0x8 : 0);
        int size = random.nextInt(4) == 0 ? random.nextInt() : random.nextInt(300);
        int bodyLength = random.nextInt(4) == 0 ? random.nextInt(300) : Math.max(0, Math.min(size, 4096));
        byte[] body = new byte[bodyLength];
        random.nextBytes(body);
        byte[] header = TestMessages.Bytes.header(request.code(), flags, size).toArray();
        byte[] input = Arrays.copyOf(header, header.length + body.length);
        System.arraycopy(body, 0, input, header.length, body.length);
        return input;
    }

    private static byte[] mutate(SplittableRandom random, byte[] valid) {
        byte[] bytes = valid.clone();
        switch (random.nextInt(5)) {
            case 0 -> { // flip a few bits
                for (int n = random.nextInt(1, 4); n > 0; n--) {
                    int at = random.nextInt(bytes.length);
                    bytes[at] ^= (byte) (1 << random.nextInt(8));
                }
            }
            case 1 -> bytes[random.nextInt(bytes.length)] = (byte) random.nextInt(256); // overwrite a byte
            case 2 -> bytes = Arrays.copyOf(bytes, random.nextInt(bytes.length)); // truncate
            case 3 -> bytes = Arrays.copyOf(bytes, bytes.length + random.nextInt(1, 40)); // extend with zeros
            default -> { // overwrite an aligned u64 of the payload with an extreme value
                if (bytes.length >= 20) {
                    int at = 12 + random.nextInt((bytes.length - 12) / 8) * 8;
                    long value = switch (random.nextInt(4)) {
                        case 0 -> -1L;
                        case 1 -> Long.MIN_VALUE;
                        case 2 -> 0L;
                        default -> random.nextLong();
                    };
                    for (int b = 0; b < 8 && at + b < bytes.length; b++) {
                        bytes[at + b] = (byte) (value >>> (8 * b));
                    }
                }
            }
        }
        return bytes;
    }

    private List<byte[]> validMessages() {
        List<byte[]> messages = new ArrayList<>();
        for (VhostUserRequest request : VhostUserRequest.values()) {
            messages.add(encode(codec, TestMessages.sample(request, false)));
            messages.add(encode(codec, TestMessages.sample(request, true)));
        }
        return messages;
    }
}
