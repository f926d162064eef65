// green/process.hpp: child processes whose waits park only the calling greenlet
// (gevent.subprocess, Python's subprocess.Popen and run).
//
//   green::Process p({"sort"}, {.in = true, .out = true});
//   auto [out, err] = p.communicate("b\na\n");   // "a\nb\n"; the child has ended
//   int code = green::run({"sh", "-c", "exit 3"}).returncode;   // 3
//
// Contract:
//  - The program is found as execvp finds it (PATH); one that cannot be started is a
//    std::system_error with the errno (ENOENT...), and no process is left.
//  - With in/out/err, the child's stdin/stdout/stderr is a pipe whose other end is a green::Stream
//    here (in(), out(), err()); otherwise the child shares this process's descriptor. The pipes
//    are close-on-exec: other children do not inherit them.
//  - wait() parks until the child ends (a pidfd: no SIGCHLD handler, no thread) and returns its
//    returncode as Python's: the exit status, or -N for death by signal N; std::nullopt after
//    `timeout`. poll() never parks. A child is reaped once; later calls give the same code.
//  - communicate(input) writes `input` to stdin (then closes it), reads stdout and stderr to
//    their ends at the same time (two greenlets: no pipe fills up), and waits; a timeout is
//    TimeoutExpired with the child left running.
//  - The destructor closes the pipes and waits for a child that was not waited for (as
//    std::jthread joins): kill() it first if it must not be waited for.
#pragma once

#include <green/stream.hpp>

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace green {

struct ProcessOptions {
    bool in = false;   // a pipe to the child's stdin
    bool out = false;  // a pipe from its stdout
    bool err = false;  // a pipe from its stderr
};

class Process {
public:
    explicit Process(std::vector<std::string> argv, ProcessOptions opts = {});
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    pid_t pid() const noexcept { return pid_; }
    // The pipes asked for (std::logic_error otherwise, or once communicate() has used them).
    Stream& in();
    Stream& out();
    Stream& err();
    // Close our end of the child's stdin: it reads EOF.
    void close_in();

    std::optional<int> wait(Seconds timeout = forever);
    std::optional<int> poll();
    std::optional<int> returncode() const noexcept { return code_; }
    void send_signal(int sig);
    void terminate();  // SIGTERM
    void kill();       // SIGKILL

    // {stdout, stderr} read to their ends ("" for those not piped), once the child has ended.
    std::pair<std::string, std::string> communicate(std::string_view input = {}, Seconds timeout = forever);

private:
    bool reap(bool block_in_kernel);  // true once code_ is known
    pid_t pid_ = -1;
    int pidfd_ = -1;
    std::optional<int> code_;
    std::unique_ptr<Stream> in_, out_, err_;
};

// subprocess.run(argv, input=..., capture_output=True): the child's returncode, stdout and stderr.
struct Completed {
    int returncode;
    std::string out;
    std::string err;
};
Completed run(std::vector<std::string> argv, std::string_view input = {}, Seconds timeout = forever);

}  // namespace green
