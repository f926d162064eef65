// green/errors.hpp: the exceptions libgreen throws at wait points.
#pragma once

#include <stdexcept>
#include <string>

namespace green {

// Thrown inside a greenlet at its wait point by kill(). Like gevent's GreenletExit it is not a
// std::exception, so `catch (const std::exception&)` in user code does not swallow it; a greenlet
// that ends with it counts as killed, not failed.
struct GreenletExit {
    const char* what() const noexcept { return "GreenletExit"; }
};

class Timeout;

// Thrown at the wait point of the greenlet that armed a green::Timeout when it expires. Not a
// std::exception either, for the same reason. `timeout` tells which Timeout fired when they nest.
struct TimeoutExpired {
    const Timeout* timeout;
    double seconds;
    const char* what() const noexcept { return "green::Timeout expired"; }
};

// Thrown to a thread's root task when every greenlet waits on something that can never happen
// (gevent's "This operation would block forever"). what() lists the waiting greenlets.
class LoopExit : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Queue::get on an empty queue (non-blocking, or after its timeout).
class Empty : public std::runtime_error {
public:
    Empty() : std::runtime_error("green::Queue is empty") {}
};

// Queue::put on a full bounded queue (non-blocking, or after its timeout); Channel::put when no
// getter took the item in time.
class Full : public std::runtime_error {
public:
    Full() : std::runtime_error("green::Queue is full") {}
};

// put on a closed Queue or Channel; get once a closed one has nothing left (queue.hpp).
class Closed : public std::runtime_error {
public:
    Closed() : std::runtime_error("green::Queue is closed") {}
};

// Barrier::wait on a broken barrier: a waiter timed out or was killed, or abort() was called
// (Python's BrokenBarrierError).
class BrokenBarrier : public std::runtime_error {
public:
    BrokenBarrier() : std::runtime_error("green::Barrier is broken") {}
};

}  // namespace green
