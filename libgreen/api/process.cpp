// api/process.cpp: Process and run (see green/process.hpp).
#include <green/process.hpp>

#include "../hub/hub.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <system_error>

extern char** environ;

namespace green {

namespace {

// The ends of the pipes a constructor made, closed on the way out unless handed to Streams.
struct Pipes {
    int fd[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};  // stdin, stdout, stderr: [0] read, [1] write
    ~Pipes() {
        for (auto& p : fd)
            for (int& f : p)
                if (f >= 0) ::close(f);
    }
    void make(int which) {
        if (pipe2(fd[which], O_CLOEXEC) != 0)
            throw std::system_error(errno, std::generic_category(), "green::Process pipe");
    }
    int take(int which, int end) { return std::exchange(fd[which][end], -1); }
};

struct FileActions {
    posix_spawn_file_actions_t fa;
    FileActions() { posix_spawn_file_actions_init(&fa); }
    ~FileActions() { posix_spawn_file_actions_destroy(&fa); }
};

double deadline_after(Seconds timeout) { return timeout.value < 0 ? -1 : detail::monotonic_now() + timeout.value; }
double left_until(double deadline) { return deadline < 0 ? -1 : std::max(0.0, deadline - detail::monotonic_now()); }

}  // namespace

Process::Process(std::vector<std::string> argv, ProcessOptions opts) {
    if (argv.empty()) throw std::invalid_argument("green::Process: no program");
    Pipes pipes;
    FileActions actions;
    // The child's end of each pipe becomes its 0, 1 or 2 (dup2 clears close-on-exec there).
    const bool want[3] = {opts.in, opts.out, opts.err};
    for (int i = 0; i < 3; ++i) {
        if (!want[i]) continue;
        pipes.make(i);
        posix_spawn_file_actions_adddup2(&actions.fa, pipes.fd[i][i == 0 ? 0 : 1], i);
    }
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    if (int rc = posix_spawnp(&pid_, args[0], &actions.fa, nullptr, args.data(), environ); rc != 0)
        throw std::system_error(rc, std::generic_category(), "green::Process: cannot start " + argv[0]);
    // Without a pidfd (Linux < 5.3) wait() polls.
    pidfd_ = int(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd_ >= 0) ::fcntl(pidfd_, F_SETFD, FD_CLOEXEC);
    if (opts.in) in_ = std::make_unique<Stream>(pipes.take(0, 1));
    if (opts.out) out_ = std::make_unique<Stream>(pipes.take(1, 0));
    if (opts.err) err_ = std::make_unique<Stream>(pipes.take(2, 0));
}

Process::~Process() {
    in_.reset();
    out_.reset();
    err_.reset();
    std::exception_ptr deferred;  // an interruption of this wait, thrown at the next one
    while (!code_ && pid_ > 0) {
        try {
            wait();
        } catch (const LoopExit&) {
            break;  // nothing can ever end it here
        } catch (...) {
            if (!deferred) deferred = std::current_exception();
        }
    }
    if (pidfd_ >= 0) ::close(pidfd_);
    if (deferred) detail::Hub::current().interrupt(detail::current_task(), deferred);
}

Stream& Process::in() {
    if (!in_) throw std::logic_error("green::Process::in: stdin is not a pipe, or was closed");
    return *in_;
}
Stream& Process::out() {
    if (!out_) throw std::logic_error("green::Process::out: stdout is not a pipe");
    return *out_;
}
Stream& Process::err() {
    if (!err_) throw std::logic_error("green::Process::err: stderr is not a pipe");
    return *err_;
}

void Process::close_in() { in_.reset(); }

bool Process::reap(bool block_in_kernel) {
    if (code_) return true;
    siginfo_t si{};
    while (waitid(P_PID, id_t(pid_), &si, WEXITED | (block_in_kernel ? 0 : WNOHANG)) != 0)
        if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "green::Process wait");
    if (si.si_pid == 0) return false;  // still running
    code_ = si.si_code == CLD_EXITED ? si.si_status : -si.si_status;
    return true;
}

std::optional<int> Process::poll() {
    reap(false);
    return code_;
}

std::optional<int> Process::wait(Seconds timeout) {
    if (code_) return code_;
    if (pidfd_ >= 0) {
        // Readable once the child has ended: the reap below then does not block.
        if (!wait_readable(pidfd_, timeout)) return std::nullopt;
        reap(true);
        return code_;
    }
    const double deadline = deadline_after(timeout);
    for (double pause = 0.001;; pause = std::min(pause * 2, 0.05)) {
        if (reap(false)) return code_;
        double left = left_until(deadline);
        if (deadline >= 0 && left <= 0) return std::nullopt;
        sleep(deadline < 0 ? pause : std::min(pause, left));
    }
}

void Process::send_signal(int sig) {
    if (code_) return;  // reaped: the pid may be another process's by now
    int rc = pidfd_ >= 0 ? int(::syscall(SYS_pidfd_send_signal, pidfd_, sig, nullptr, 0)) : ::kill(pid_, sig);
    if (rc != 0 && errno != ESRCH) throw std::system_error(errno, std::generic_category(), "green::Process signal");
}
void Process::terminate() { send_signal(SIGTERM); }
void Process::kill() { send_signal(SIGKILL); }

std::pair<std::string, std::string> Process::communicate(std::string_view input, Seconds timeout) {
    const double deadline = deadline_after(timeout);
    // Both outputs are read at once: a child blocked writing a full stderr pipe while we wait on
    // stdout would never end.
    Greenlet<std::string> reading_out, reading_err;
    if (out_) reading_out = spawn([s = out_.get()] { return s->read_all(); });
    if (err_) reading_err = spawn([s = err_.get()] { return s->read_all(); });
    std::pair<std::string, std::string> result;
    try {
        if (in_) {
            if (!input.empty()) in_->write(input, left_until(deadline));
            close_in();
        }
        if (reading_out) result.first = reading_out.get(left_until(deadline));
        if (reading_err) result.second = reading_err.get(left_until(deadline));
        if (!wait(left_until(deadline))) throw TimeoutExpired{nullptr, timeout.value};
    } catch (...) {
        reading_out.kill();
        reading_err.kill();
        throw;
    }
    return result;
}

Completed run(std::vector<std::string> argv, std::string_view input, Seconds timeout) {
    Process p(std::move(argv), {.in = true, .out = true, .err = true});
    try {
        auto [out, err] = p.communicate(input, timeout);
        return {*p.returncode(), std::move(out), std::move(err)};
    } catch (const TimeoutExpired&) {
        p.kill();  // as subprocess.run: the child does not outlive its timeout
        p.wait();
        throw;
    }
}

}  // namespace green
