package io.ringway.perf.trace;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TraceJournalTest {
    @TempDir
    Path dir;

    @Test
    void eventsWrittenToTheJournalExportToCsvInOrder() throws Exception {
        Path journal = dir.resolve("trace");
        try (TraceJournal t = TraceJournal.open(journal)) {
            t.append("wakeup", "lcore", new long[] {100, 200, 300}, new long[] {11, 22, 33}, 3);
            t.append("wakeup", "park, \"jvm\"", new long[] {400}, new long[] {44}, 1);
        }
        Path csv = dir.resolve("out/trace.csv");
        assertEquals(4, TraceJournal.exportCsv(journal, csv));
        assertEquals(List.of(TraceJournal.CSV_HEADER,
                "wakeup,lcore,100,11", "wakeup,lcore,200,22", "wakeup,lcore,300,33",
                "wakeup,\"park, \"\"jvm\"\"\",400,44"), Files.readAllLines(csv));
    }

    @Test
    void exportOfAMissingJournalNamesThePath() {
        Path missing = dir.resolve("nothing-here");
        IOException e = assertThrows(IOException.class, () -> TraceJournal.exportCsv(missing, dir.resolve("x.csv")));
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
    }

    @Test
    void countBeyondTheArraysIsRejected() throws Exception {
        try (TraceJournal t = TraceJournal.open(dir.resolve("t"))) {
            assertThrows(IllegalArgumentException.class, () -> t.append("s", "x", new long[1], new long[1], 2));
        }
    }
}
