// producer_consumer.cpp - a producer and a consumer greenlet over a bounded green::Queue.
//
// The queue holds at most 3 items: the producer parks on put() while it is full, the consumer on
// get() while it is empty, so the printed lines interleave. The consumer is slower (it "works"
// 10 ms per item), so after the first burst the producer only gets ahead by the queue's size.
#include <green/green.hpp>

#include <cstdio>
#include <string>

int main() {
    green::Queue<std::string> q(3);
    const int items = 10;

    auto producer = green::spawn([&] {
        for (int i = 0; i < items; ++i) {
            std::string item = "item-" + std::to_string(i);
            q.put(item);
            printf("producer: put %-8s (queue size %zu)\n", item.c_str(), q.qsize());
        }
        q.put("");  // end marker
        printf("producer: done\n");
    });
    auto consumer = green::spawn([&] {
        int n = 0;
        for (;;) {
            std::string item = q.get();
            if (item.empty()) break;
            printf("consumer:            got %-8s (queue size %zu)\n", item.c_str(), q.qsize());
            green::sleep(0.01);
            ++n;
        }
        printf("consumer: done, %d items\n", n);
        return n;
    });
    producer.get();
    int got = consumer.get();
    return got == items ? 0 : 1;
}
