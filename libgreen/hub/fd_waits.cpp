// hub/fd_waits.cpp: tasks parked until a descriptor is ready, one libev watcher per descriptor.
#include "hub_parts.hpp"

#include "hub.hpp"

#include <ev.h>

#include <new>
#include <vector>

namespace green::detail {

namespace {

struct FdSlot;

// One parked wait on one descriptor; lives on the waiting task's stack.
struct IoWait {
    Task* task;
    uint64_t seq;
    FdInterest* interest;
    FdSlot* slot;
    IoWait* prev;
    IoWait* next;
};

// A hub's watcher for one descriptor. It stays armed between waits when the hub keeps watchers
// (the preload, which sees every close): a green thread that reads, finds EAGAIN and waits again
// then costs libev no epoll_ctl. Disarmed when it fires with nobody waiting, and on cancel_fd.
struct FdSlot {
    ev_io w;
    int fd;
    IoWait* head = nullptr;
};

using FdSlots = std::vector<FdSlot*>;  // by descriptor

int wanted_events(const FdSlot& s) {
    int ev = 0;
    for (IoWait* w = s.head; w; w = w->next) ev |= w->interest->events & (EV_READ | EV_WRITE);
    return ev;
}

// Arm the slot's watcher for exactly `ev` (0: disarm).
void arm(struct ev_loop* loop, FdSlot& s, int ev) {
    if (ev_is_active(&s.w)) {
        if ((s.w.events & (EV_READ | EV_WRITE)) == ev) return;
        ev_io_stop(loop, &s.w);
    }
    if (!ev) return;
    // ev_io_set (not ev_io_modify) each time it is armed anew: it makes libev re-register the
    // descriptor with the kernel, which a closed and reused number needs (libev would otherwise
    // trust a registration the kernel dropped at close).
    ev_io_set(&s.w, s.fd, ev);
    ev_io_start(loop, &s.w);
}

}  // namespace

void* new_fd_waits() { return new FdSlots; }

void delete_fd_waits(void* fd_waits) noexcept {
    for (FdSlot* slot : *static_cast<FdSlots*>(fd_waits)) delete slot;
    delete static_cast<FdSlots*>(fd_waits);
}

void forget_fd_waits(struct ev_loop* loop, void* fd_waits) noexcept {
    for (FdSlot* slot : *static_cast<FdSlots*>(fd_waits)) {
        if (!slot) continue;
        if (ev_is_active(&slot->w)) ev_io_stop(loop, &slot->w);
        slot->head = nullptr;
    }
}

void Hub::on_fd(struct ev_loop* loop, ev_io* w, int revents) {
    auto* slot = static_cast<FdSlot*>(w->data);
    Hub* hub = static_cast<Hub*>(ev_userdata(loop));
    bool any = false;
    for (IoWait* iw = slot->head; iw; iw = iw->next) {
        int mine = revents & iw->interest->events & (EV_READ | EV_WRITE);
        if (!mine) continue;
        iw->interest->revents |= mine;
        hub->local_wake(iw->task, iw->seq, Wake::Notified);
        any = true;
    }
    // Ready with nobody waiting for it: a level-triggered watcher would fire again at once.
    if (!any) arm(loop, *slot, wanted_events(*slot) & ~revents);
}

Wake Hub::wait_fds(std::span<FdInterest> fds, const Waker& waker, const ParkSpec& spec, bool keep_armed) {
    Task* self = tls_task;
    if (self->pending) return Wake::Interrupted;
    Inside in(this, self);
    need_loop();  // held (see park)
    IoWait small[4];
    std::vector<IoWait> big;
    IoWait* waits = small;
    if (fds.size() > 4) {
        big.resize(fds.size());
        waits = big.data();
    }
    auto& slots = *static_cast<FdSlots*>(fd_waits_);
    for (size_t i = 0; i < fds.size(); ++i) {
        FdInterest& it = fds[i];
        it.revents = 0;
        if (size_t(it.fd) >= slots.size()) {
            slots.resize(size_t(it.fd) + 64, nullptr);
            fd_slots_size_.store(int(slots.size()), std::memory_order_relaxed);
        }
        FdSlot*& slot = slots[size_t(it.fd)];
        if (!slot) {
            slot = new FdSlot;
            slot->fd = it.fd;
            ev_init(&slot->w, &Hub::on_fd);
            slot->w.data = slot;
        }
        IoWait& w = waits[i];
        w = IoWait{self, waker.epoch, &it, slot, nullptr, slot->head};
        if (slot->head) slot->head->prev = &w;
        slot->head = &w;
        arm(loop_, *slot, wanted_events(*slot) | (keep_armed ? slot->w.events & EV_READ : 0));
    }
    Wake why = park(waker, spec);
    for (size_t i = 0; i < fds.size(); ++i) {
        IoWait& w = waits[i];
        FdSlot& slot = *w.slot;
        if (w.prev) w.prev->next = w.next;
        else slot.head = w.next;
        if (w.next) w.next->prev = w.prev;
        // Keep reading armed for the next wait if asked; writability is nearly always true, so it
        // is disarmed as soon as nobody waits for it.
        int keep = keep_armed && why != Wake::Closed ? slot.w.events & EV_READ : 0;
        arm(loop_, slot, wanted_events(slot) | keep);
    }
    return why;
}

void Hub::cancel_fd(int fd) noexcept {
    Inside in(this, tls_task);
    auto& slots = *static_cast<FdSlots*>(fd_waits_);
    if (fd < 0 || size_t(fd) >= slots.size() || !slots[size_t(fd)]) return;
    FdSlot& slot = *slots[size_t(fd)];
    // libev must forget the descriptor before it is closed and its number reused.
    if (ev_is_active(&slot.w)) ev_io_stop(loop_, &slot.w);
    for (IoWait* w = slot.head; w; w = w->next) local_wake(w->task, w->seq, Wake::Closed);
}

int Hub::movable_fd_waits(int from) const noexcept {
    auto& slots = *static_cast<FdSlots*>(fd_waits_);
    if (from < 0 || size_t(from) >= slots.size() || !slots[size_t(from)]) return 0;
    int n = 0;
    for (IoWait* w = slots[size_t(from)]->head; w; w = w->next) n += (w->interest->events & kMovable) != 0;
    return n;
}

int Hub::move_fd_waits(int from, int to) noexcept {
    Inside in(this, tls_task);
    auto& slots = *static_cast<FdSlots*>(fd_waits_);
    if (from < 0 || size_t(from) >= slots.size() || !slots[size_t(from)] || to < 0) return 0;
    if (size_t(to) >= slots.size()) {
        slots.resize(size_t(to) + 64, nullptr);
        fd_slots_size_.store(int(slots.size()), std::memory_order_relaxed);
    }
    FdSlot& a = *slots[size_t(from)];
    FdSlot*& b = slots[size_t(to)];
    if (!b) {
        b = new (std::nothrow) FdSlot;
        if (!b) return 0;
        b->fd = to;
        ev_init(&b->w, &Hub::on_fd);
        b->w.data = b;
    }
    int n = 0;
    for (IoWait* w = a.head; w;) {
        IoWait* next = w->next;
        if (w->interest->events & kMovable) {
            if (w->prev) w->prev->next = w->next;
            else a.head = w->next;
            if (w->next) w->next->prev = w->prev;
            w->prev = nullptr;
            w->next = b->head;
            if (b->head) b->head->prev = w;
            b->head = w;
            w->slot = b;
            w->interest->fd = to;
            ++n;
        }
        w = next;
    }
    arm(loop_, a, wanted_events(a));
    arm(loop_, *b, wanted_events(*b));
    return n;
}

}  // namespace green::detail
