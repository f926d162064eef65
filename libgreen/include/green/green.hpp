// green/green.hpp: libgreen's C++20 API, modelled on gevent.
//
//   #include <green/green.hpp>
//   auto g = green::spawn([](int x) { green::sleep(0.2); return x * 2; }, 21);
//   int v = g.get();  // 42, after about 0.2 s; other greenlets ran meanwhile
//
// greenlet.hpp   spawn, spawn_later, Greenlet<T>, join/joinall, kill (with an exception), link,
//                sleep, sleep_until, Timeout, with_timeout, wait_readable, local, operator<<
// coroutine.hpp  Coroutine<T>: symmetric switches (switch_to, throw_into, parent), as greenlet's
// wait.hpp       wait(objects, count, timeout), iwait / as_completed over any Waitable
// sync.hpp       Event, AsyncResult, Lock, RLock, Semaphore, BoundedSemaphore, Condition, Barrier
// queue.hpp      Queue (close), LifoQueue, PriorityQueue, JoinableQueue, Channel
// group.hpp      Group, Pool: map, imap_unordered, apply, apply_async
// nursery.hpp    open_nursery, Nursery: structured concurrency (Trio, asyncio.TaskGroup)
// thread_pool.hpp ThreadPool (blocking functions on native threads)
// io.hpp         read/write/accept/connect for non-blocking sockets, StreamServer
// stream.hpp     Stream: buffered read_line / read_until / read_exactly, write, connect
// process.hpp    Process, run: child processes with pipes; wait parks (gevent.subprocess)
#pragma once

#include <green/coroutine.hpp>
#include <green/errors.hpp>
#include <green/greenlet.hpp>
#include <green/group.hpp>
#include <green/io.hpp>
#include <green/nursery.hpp>
#include <green/process.hpp>
#include <green/queue.hpp>
#include <green/stream.hpp>
#include <green/sync.hpp>
#include <green/thread_pool.hpp>
#include <green/wait.hpp>
