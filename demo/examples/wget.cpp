// wget.cpp - the seeds' asyncio async_wget.py: fetch three sites' front pages at once and print
// their header lines, each as it comes, from one OS thread.
//
// No network here: the program serves the three "sites" itself (a green::StreamServer on a free
// port of 127.0.0.1 that answers by the Host header, each after its own delay, as remote servers
// would). Each wget(host) is the seed's coroutine line for line: open a connection (Stream::connect,
// asyncio.open_connection), write the request, read_line until the blank line. The three run in
// greenlets; green::wait for all of them is asyncio.wait(tasks). They take as long as the slowest
// site (0.3 s), not the sum (0.6 s).
#include <green/green.hpp>

#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace {

struct Site {
    double delay;
    const char* status;
    const char* header;
};
const std::map<std::string, Site> kSites = {
    {"www.sina.com.cn", {0.2, "HTTP/1.1 200 OK", "Content-Type: text/html"}},
    {"www.sohu.com", {0.1, "HTTP/1.1 200 OK", "Content-Type: text/html; charset=GBK"}},
    {"www.163.com", {0.3, "HTTP/1.0 302 Moved Temporarily", "Server: Cdn Cache Server V2.0"}},
};

void serve(int fd) {
    green::Stream conn(fd, false);  // StreamServer closes fd
    std::string host;
    for (std::string line; (line = conn.read_line()) != "\r\n" && !line.empty();)
        if (line.rfind("Host: ", 0) == 0) host = line.substr(6, line.size() - 8);
    auto it = kSites.find(host);
    if (it == kSites.end()) return conn.write("HTTP/1.0 404 Not Found\r\n\r\n");
    green::sleep(it->second.delay);
    conn.write(std::string(it->second.status) + "\r\n" + it->second.header + "\r\nContent-Length: 5\r\n\r\nhello");
}

void wget(const std::string& host, uint16_t port) {
    std::printf("wget %s...\n", host.c_str());
    green::Stream s = green::Stream::connect("127.0.0.1", port);  // (host:80 on the real network)
    s.write("GET / HTTP/1.0\r\nHost: " + host + "\r\n\r\n");
    for (;;) {
        std::string line = s.read_line();
        if (line == "\r\n" || line.empty()) break;
        std::printf("%s header > %s\n", host.c_str(), line.substr(0, line.find_last_not_of("\r\n") + 1).c_str());
    }
    // Ignore the body, close the socket (the Stream's destructor)
}

}  // namespace

int main() {
    green::StreamServer server(green::listen_tcp("127.0.0.1", 0), serve);
    server.start();
    auto t0 = std::chrono::steady_clock::now();
    std::vector<green::Greenlet<void>> tasks;
    for (const char* host : {"www.sina.com.cn", "www.sohu.com", "www.163.com"})
        tasks.push_back(green::spawn(wget, std::string(host), server.port()));
    green::wait(tasks);  // asyncio.wait(tasks)
    for (auto& t : tasks) t.get();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("3 sites in %.2f s (each alone: 0.2 + 0.1 + 0.3 = 0.6 s)\n", s);
    return s < 0.55 ? 0 : 1;
}
