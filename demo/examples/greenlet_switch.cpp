// greenlet_switch.cpp - the seeds' greenlet producer/consumer: two coroutines that hand control to
// each other with explicit switches (greenlet's c.switch() / p.switch()).
//
//   c = greenlet(Consumer); p = greenlet(Producer); c.switch()
//
// Each side "works" 0.2 s (green::sleep: that parks only it on the hub, as time.sleep does under
// gevent's monkey patching), then switches to the other. The consumer's body ends after three
// buns; its result goes to its parent, main, whose switch_to() returns. The producer, left
// suspended in a switch, is killed when its last handle goes (greenlet's garbage collector).
#include <green/green.hpp>

#include <chrono>
#include <cstdio>

int main() {
    auto t0 = std::chrono::steady_clock::now();
    auto since = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };

    green::Coroutine<int> producer, consumer;
    producer = green::Coroutine<int>([&] {
        for (int bun = 1;; ++bun) {
            printf("%.1f s  producer: I make bun %d\n", since(), bun);
            green::sleep(0.2);
            consumer.switch_to(bun);  // to the consumer, with the bun
            printf("%.1f s  producer: back to work\n", since());
        }
        return 0;
    });
    consumer = green::Coroutine<int>([&] {
        int eaten = 0;
        while (eaten < 3) {
            int bun = producer.switch_to(0);  // ask for one: returns what the producer switches back
            printf("%.1f s  consumer: I eat bun %d\n", since(), bun);
            green::sleep(0.2);
            ++eaten;
        }
        return eaten;
    });
    int eaten = consumer.switch_to(0);  // the consumer first, as in the seed
    printf("%.1f s  main: the consumer is full after %d buns; producer %s\n", since(), eaten,
           producer.dead() ? "dead" : "suspended in a switch");
    green::GreenletBase p = producer.greenlet();
    producer = {};  // its last handle: killed at its switch point
    p.join();
    printf("%.1f s  main: producer %s\n", since(), p.killed() ? "killed" : "still alive?");
    return eaten == 3 && p.killed() ? 0 : 1;
}
