package io.ringway.runtime.poll;

import java.lang.System.Logger.Level;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.status.AtomicCounter;
import org.jctools.queues.MpscArrayQueue;

import io.ringway.runtime.stats.StatsRegistry;
import io.ringway.runtime.sys.Cpu;
import io.ringway.runtime.sys.Epoll;
import io.ringway.runtime.sys.EventFd;
import io.ringway.runtime.sys.LinuxException;

/**
 * A data-plane thread (DPDK's lcore): runs a set of {@link Poller}s in a loop, optionally pinned to
 * one CPU, with a pluggable {@link IdlePolicy} for iterations that found no work.
 *
 * <p>The control plane never touches the poller set directly: {@link #addPoller}, {@link
 * #removePoller}, {@link #execute} and {@link #close} post commands to a lock-free MPSC queue
 * (JCTools) that the loop drains between iterations, and signal an eventfd so that an lcore asleep
 * in epoll wakes for them. The loop itself never blocks on the control plane.
 *
 * <p>Counters ({@code busy iterations}, {@code idle iterations}, {@code sleeps}) live in the
 * process's {@link StatsRegistry} so that {@code ringway stats} shows them while the process runs.
 * A poller that throws is removed and logged once; the lcore and the other pollers go on.
 */
public final class Lcore implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Lcore.class.getName());
    private static final int COMMAND_CAPACITY = 1024;
    private static final long COMMAND_FD_COOKIE = -1L;

    private final String name;
    private final int cpu;
    private final IdlePolicy policy;
    private final StatsRegistry stats;
    private final MpscArrayQueue<Command> commands = new MpscArrayQueue<>(COMMAND_CAPACITY);
    private final EventFd commandFd;
    private final AtomicCounter busyIterations;
    private final AtomicCounter idleIterations;
    private final AtomicCounter sleeps;
    private final Thread thread;

    // Owned by the lcore thread.
    private Poller[] pollers = new Poller[0];
    private int[] registeredFds = new int[0];
    private EventFd[] wakers = new EventFd[0];
    private Epoll epoll;
    private boolean running = true;
    private volatile Throwable failure;

    private Lcore(Builder b) {
        this.name = b.name;
        this.cpu = b.cpu;
        this.policy = b.policy;
        this.stats = b.stats != null ? b.stats : StatsRegistry.process();
        this.commandFd = EventFd.create(true);
        this.busyIterations = stats.newCounter("lcore " + name + ": busy iterations");
        this.idleIterations = stats.newCounter("lcore " + name + ": idle iterations");
        this.sleeps = stats.newCounter("lcore " + name + ": sleeps");
        this.thread = Thread.ofPlatform().name("lcore-" + name).daemon(b.daemon).unstarted(this::run);
    }

    /** Starts building an lcore called {@code name}. */
    public static Builder builder(String name) {
        return new Builder(name);
    }

    /** Builder for {@link Lcore}. */
    public static final class Builder {
        private final String name;
        private int cpu = -1;
        private IdlePolicy policy = IdlePolicy.backoff();
        private StatsRegistry stats;
        private boolean daemon = true;

        private Builder(String name) {
            this.name = Objects.requireNonNull(name, "name");
        }

        /** Pins the thread to {@code cpu} (sched_setaffinity); -1 leaves it unpinned. */
        public Builder cpu(int cpu) {
            if (cpu < -1) {
                throw new IllegalArgumentException("cpu must be >= 0 (or -1 for unpinned), got " + cpu);
            }
            this.cpu = cpu;
            return this;
        }

        public Builder idlePolicy(IdlePolicy policy) {
            this.policy = Objects.requireNonNull(policy, "policy");
            return this;
        }

        /** Registry for the lcore's counters; the process registry by default. */
        public Builder stats(StatsRegistry stats) {
            this.stats = stats;
            return this;
        }

        public Builder daemon(boolean daemon) {
            this.daemon = daemon;
            return this;
        }

        /** Creates and starts the lcore. */
        public Lcore start() {
            Lcore lcore = new Lcore(this);
            lcore.thread.start();
            return lcore;
        }
    }

    /** Adds a poller; completes once the lcore runs it. */
    public CompletableFuture<Void> addPoller(Poller poller) {
        Objects.requireNonNull(poller, "poller");
        return post(new Command(Kind.ADD, poller, null));
    }

    /** Removes a poller; completes once the lcore no longer calls it. */
    public CompletableFuture<Void> removePoller(Poller poller) {
        Objects.requireNonNull(poller, "poller");
        return post(new Command(Kind.REMOVE, poller, null));
    }

    /**
     * Runs {@code action} on the lcore thread between two loop iterations — how a control change
     * (a new memory table, a queue (re)configuration) reaches data-plane state without a lock.
     */
    public CompletableFuture<Void> execute(Runnable action) {
        Objects.requireNonNull(action, "action");
        return post(new Command(Kind.RUN, null, action));
    }

    /** Asks the lcore to stop; completes when its loop has ended. */
    public CompletableFuture<Void> stop() {
        return post(new Command(Kind.STOP, null, null));
    }

    /** Stops the lcore and waits up to 10 s for its thread. */
    @Override
    public void close() {
        if (thread.isAlive()) {
            try {
                stop().get(10, TimeUnit.SECONDS);
                thread.join(TimeUnit.SECONDS.toMillis(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (TimeoutException e) {
                throw new IllegalStateException("lcore " + name + " did not stop within 10 s", e);
            } catch (java.util.concurrent.ExecutionException e) {
                throw new IllegalStateException("lcore " + name + " failed while stopping", e.getCause());
            }
        }
        commandFd.close();
        stats.free(busyIterations);
        stats.free(idleIterations);
        stats.free(sleeps);
    }

    public String name() {
        return name;
    }

    public IdlePolicy idlePolicy() {
        return policy;
    }

    /** Loop iterations in which some poller did work. */
    public long busyIterations() {
        return busyIterations.getAcquire();
    }

    /** Loop iterations in which no poller did work. */
    public long idleIterations() {
        return idleIterations.getAcquire();
    }

    /** Times the lcore went to sleep in epoll (adaptive interrupt mode). */
    public long sleeps() {
        return sleeps.getAcquire();
    }

    /** Whether the lcore thread is running. */
    public boolean isRunning() {
        return thread.isAlive();
    }

    /** The error that ended the loop, if it ended abnormally. */
    public Throwable failure() {
        return failure;
    }

    private CompletableFuture<Void> post(Command command) {
        if (!thread.isAlive() && command.kind != Kind.STOP) {
            return CompletableFuture.failedFuture(new IllegalStateException("lcore " + name + " is not running"));
        }
        if (!thread.isAlive()) {
            return CompletableFuture.completedFuture(null);
        }
        while (!commands.offer(command)) {
            // A full command queue means the lcore is far behind; the control thread waits, the
            // data plane does not.
            Thread.onSpinWait();
            if (!thread.isAlive()) {
                return CompletableFuture.failedFuture(new IllegalStateException("lcore " + name + " stopped"));
            }
        }
        commandFd.signal();
        return command.done;
    }

    private void run() {
        try {
            if (cpu >= 0) {
                Cpu.pinCurrentThread(cpu);
            }
            epoll = Epoll.create(64);
            epoll.add(commandFd.fd(), Epoll.EPOLLIN, COMMAND_FD_COOKIE);
            loop();
        } catch (Throwable t) {
            failure = t;
            LOG.log(Level.ERROR, "lcore " + name + " stopped by an error", t);
        } finally {
            if (epoll != null) {
                epoll.close();
            }
            Command c;
            while ((c = commands.poll()) != null) {
                if (c.kind == Kind.STOP) {
                    c.done.complete(null);
                } else {
                    c.done.completeExceptionally(new IllegalStateException("lcore " + name + " stopped"));
                }
            }
        }
    }

    private void loop() {
        final IdleStrategy idle = switch (policy) {
            case IdlePolicy.BusySpin b -> new BusySpinIdleStrategy();
            case IdlePolicy.Backoff b -> new BackoffIdleStrategy(b.maxSpins(), b.maxYields(), b.minParkNanos(), b.maxParkNanos());
            case IdlePolicy.AdaptiveInterrupt a -> new BusySpinIdleStrategy();
        };
        final boolean adaptive = policy instanceof IdlePolicy.AdaptiveInterrupt;
        final long idleNanosBeforeSleep = adaptive ? ((IdlePolicy.AdaptiveInterrupt) policy).idleNanos() : Long.MAX_VALUE;
        final int maxSleepMillis = adaptive ? ((IdlePolicy.AdaptiveInterrupt) policy).maxSleepMillis() : 0;
        long idleSince = 0;

        while (running) {
            int work = drainCommands();
            final Poller[] current = pollers;
            for (int i = 0; i < current.length; i++) {
                try {
                    work += current[i].doWork();
                } catch (RuntimeException | Error e) {
                    if (e instanceof VirtualMachineError vme) {
                        throw vme;
                    }
                    LOG.log(Level.ERROR, "lcore " + name + ": poller " + current[i].name() + " failed and was removed", e);
                    removeNow(current[i]);
                }
            }
            if (work > 0) {
                busyIterations.incrementRelease();
                idleSince = 0;
                idle.reset();
            } else {
                idleIterations.incrementRelease();
                if (adaptive) {
                    long now = System.nanoTime();
                    if (idleSince == 0) {
                        idleSince = now;
                    } else if (now - idleSince >= idleNanosBeforeSleep) {
                        sleep(maxSleepMillis);
                        idleSince = 0;
                        continue;
                    }
                }
                idle.idle();
            }
        }
    }

    /** Arms every interrupt source, sleeps in epoll, drains what woke it, disarms. */
    private void sleep(int maxSleepMillis) {
        final Poller[] current = pollers;
        int armed = 0;
        boolean pending = false;
        for (; armed < current.length; armed++) {
            if (current[armed] instanceof InterruptSource source) {
                syncRegistration(armed, source);
                if (!source.arm()) {
                    pending = true;
                    armed++;
                    break;
                }
            }
        }
        if (!pending && commands.isEmpty()) {
            sleeps.incrementRelease();
            int ready = epoll.await(maxSleepMillis);
            for (int i = 0; i < ready; i++) {
                long cookie = epoll.data(i);
                if (cookie == COMMAND_FD_COOKIE) {
                    commandFd.read();
                } else {
                    // Reset the eventfd counter so that a level-triggered epoll does not report
                    // it again; epoll said it is readable, so the read does not block.
                    wakers[(int) cookie].read();
                }
            }
        }
        for (int i = 0; i < armed; i++) {
            if (current[i] instanceof InterruptSource source) {
                source.disarm();
            }
        }
    }

    /** Keeps the epoll set in step with the fd an interrupt source reports now. */
    private void syncRegistration(int index, InterruptSource source) {
        int fd = source.wakeupFd();
        int old = registeredFds[index];
        if (fd == old) {
            return;
        }
        if (old >= 0) {
            unregister(old);
        }
        if (fd >= 0) {
            // The cookie is the poller's index; the EventFd wrapper does not own the fd.
            epoll.add(fd, Epoll.EPOLLIN, index);
            wakers[index] = EventFd.wrap(fd);
        } else {
            wakers[index] = null;
        }
        registeredFds[index] = fd;
    }

    private void unregister(int fd) {
        try {
            epoll.remove(fd);
        } catch (LinuxException e) {
            // The source closed its fd already (EBADF), which removed it from the epoll set.
        }
    }

    private int drainCommands() {
        if (commands.isEmpty()) {
            return 0;
        }
        // Reset the command eventfd before taking the commands: a command posted after this read
        // signals again, so the epoll sleep cannot miss it, and the ones taken now leave no stale
        // wakeup behind.
        commandFd.read();
        int done = 0;
        Command c;
        while ((c = commands.poll()) != null) {
            done++;
            try {
                switch (c.kind) {
                    case ADD -> addNow(c.poller);
                    case REMOVE -> removeNow(c.poller);
                    case RUN -> c.action.run();
                    case STOP -> running = false;
                }
                c.done.complete(null);
            } catch (RuntimeException e) {
                c.done.completeExceptionally(e);
            }
        }
        return done;
    }

    private void addNow(Poller poller) {
        for (Poller p : pollers) {
            if (p == poller) {
                throw new IllegalArgumentException("poller " + poller.name() + " is already on lcore " + name);
            }
        }
        pollers = Arrays.copyOf(pollers, pollers.length + 1);
        pollers[pollers.length - 1] = poller;
        registeredFds = Arrays.copyOf(registeredFds, registeredFds.length + 1);
        registeredFds[registeredFds.length - 1] = -1;
        wakers = Arrays.copyOf(wakers, wakers.length + 1);
    }

    private void removeNow(Poller poller) {
        int index = -1;
        for (int i = 0; i < pollers.length; i++) {
            if (pollers[i] == poller) {
                index = i;
            }
        }
        if (index < 0) {
            throw new IllegalArgumentException("poller " + poller.name() + " is not on lcore " + name);
        }
        // Epoll cookies are indices: drop every registration and let sleep() re-register.
        for (int i = 0; i < registeredFds.length; i++) {
            if (registeredFds[i] >= 0) {
                unregister(registeredFds[i]);
            }
        }
        Poller[] keep = new Poller[pollers.length - 1];
        System.arraycopy(pollers, 0, keep, 0, index);
        System.arraycopy(pollers, index + 1, keep, index, pollers.length - index - 1);
        pollers = keep;
        registeredFds = new int[keep.length];
        Arrays.fill(registeredFds, -1);
        wakers = new EventFd[keep.length];
    }

    private enum Kind { ADD, REMOVE, RUN, STOP }

    private record Command(Kind kind, Poller poller, Runnable action, CompletableFuture<Void> done) {
        Command(Kind kind, Poller poller, Runnable action) {
            this(kind, poller, action, new CompletableFuture<>());
        }
    }
}
