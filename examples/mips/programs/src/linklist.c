/*
 * linklist - pointer-chasing over linked lists and a chained hash table.
 *
 * Nodes come from a fixed pool with a free list. Each round builds a list of
 * pseudo-random values, reverses it in place, merge-sorts it (recursive split),
 * deletes every node divisible by 3, inserts new values in sorted position,
 * searches it, and counts keys in a hash table of chains (move-to-front on hit).
 * Dominated by dependent loads (LW of next pointers) and short branches.
 */
#include "runtime.h"

#ifndef ITERS
#define ITERS 2
#endif

#define POOL 1024
#define LIST_LEN 600
#define BUCKETS 64

struct node {
    struct node *next;
    int32_t value;
    uint32_t count;
};

static struct node pool[POOL];
static struct node *free_list;
static uint32_t allocated;

static void pool_init(void)
{
    free_list = 0;
    for (int i = POOL - 1; i >= 0; i--) {
        pool[i].next = free_list;
        free_list = &pool[i];
    }
    allocated = 0;
}

static struct node *node_new(int32_t value)
{
    struct node *n = free_list;
    if (!n)
        return 0;
    free_list = n->next;
    n->next = 0;
    n->value = value;
    n->count = 1;
    allocated++;
    return n;
}

static void node_free(struct node *n)
{
    n->next = free_list;
    free_list = n;
    allocated--;
}

static struct node *reverse(struct node *head)
{
    struct node *previous = 0;
    while (head) {
        struct node *next = head->next;
        head->next = previous;
        previous = head;
        head = next;
    }
    return previous;
}

static struct node *merge(struct node *a, struct node *b)
{
    struct node head = {0, 0, 0}, *tail = &head;
    while (a && b) {
        if (a->value <= b->value) {
            tail->next = a;
            a = a->next;
        } else {
            tail->next = b;
            b = b->next;
        }
        tail = tail->next;
    }
    tail->next = a ? a : b;
    return head.next;
}

static struct node *merge_sort(struct node *head)
{
    if (!head || !head->next)
        return head;
    struct node *slow = head, *fast = head->next;      /* split at the middle */
    while (fast && fast->next) {
        slow = slow->next;
        fast = fast->next->next;
    }
    struct node *second = slow->next;
    slow->next = 0;
    return merge(merge_sort(head), merge_sort(second));
}

static struct node *remove_multiples_of_3(struct node *head)
{
    struct node **link = &head;
    while (*link) {
        struct node *n = *link;
        if (n->value % 3 == 0) {
            *link = n->next;
            node_free(n);
        } else {
            link = &n->next;
        }
    }
    return head;
}

static struct node *insert_sorted(struct node *head, struct node *n)
{
    struct node **link = &head;
    while (*link && (*link)->value < n->value)
        link = &(*link)->next;
    n->next = *link;
    *link = n;
    return head;
}

static uint32_t length(const struct node *n)
{
    uint32_t len = 0;
    for (; n; n = n->next)
        len++;
    return len;
}

static uint32_t list_hash(const struct node *n)
{
    uint32_t h = 0;
    for (; n; n = n->next)
        h = h * 31 + (uint32_t)n->value;
    return h;
}

static int is_sorted(const struct node *n)
{
    for (; n && n->next; n = n->next)
        if (n->value > n->next->value)
            return 0;
    return 1;
}

static struct node *buckets[BUCKETS];

/* Counts value in the hash table; a found node moves to the front of its chain. */
static int count_key(int32_t value)
{
    struct node **chain = &buckets[((uint32_t)value * 2654435761u) >> 26];
    for (struct node **link = chain; *link; link = &(*link)->next) {
        struct node *n = *link;
        if (n->value == value) {
            n->count++;
            *link = n->next;
            n->next = *chain;
            *chain = n;
            return 1;
        }
    }
    struct node *n = node_new(value);
    if (!n)
        return -1;
    n->next = *chain;
    *chain = n;
    return 0;
}

int main(void)
{
    uint32_t state = 77, total = 0;
    for (uint32_t iter = 0; iter < ITERS; iter++) {
        pool_init();
        struct node *list = 0;
        for (int i = 0; i < LIST_LEN; i++) {
            state = state * 1103515245u + 12345u;
            struct node *n = node_new((int32_t)(state >> 8) % 10000 - 5000);
            n->next = list;
            list = n;
        }
        uint32_t built_hash = list_hash(list);
        list = reverse(list);
        uint32_t reversed_hash = list_hash(list);
        list = merge_sort(list);
        if (!is_sorted(list) || length(list) != LIST_LEN) {
            rt_print("merge sort failed\n");
            return 1;
        }
        list = remove_multiples_of_3(list);
        uint32_t kept = length(list);
        for (int i = 0; i < 100; i++) {
            state = state * 1103515245u + 12345u;
            list = insert_sorted(list, node_new((int32_t)(state >> 8) % 10000 - 5000));
        }
        if (!is_sorted(list)) {
            rt_print("insertion failed\n");
            return 1;
        }
        uint32_t found = 0;
        for (int32_t key = -5000; key < 5000; key += 37)
            for (const struct node *n = list; n && n->value <= key; n = n->next)
                if (n->value == key) {
                    found++;
                    break;
                }
        int32_t median = 0;
        uint32_t position = 0, len = length(list);
        for (const struct node *n = list; n; n = n->next, position++)
            if (position == len / 2)
                median = n->value;

        /* hash table: release the list, then count 400 keys from a small range */
        while (list) {
            struct node *next = list->next;
            node_free(list);
            list = next;
        }
        for (int b = 0; b < BUCKETS; b++)
            buckets[b] = 0;
        uint32_t repeats = 0;
        for (int i = 0; i < 400; i++) {
            state = state * 1103515245u + 12345u;
            int r = count_key((int32_t)((state >> 16) % 211));
            if (r < 0) {
                rt_print("pool exhausted\n");
                return 1;
            }
            repeats += (uint32_t)r;
        }
        uint32_t distinct = 0, max_count = 0, longest_chain = 0;
        for (int b = 0; b < BUCKETS; b++) {
            uint32_t chain = 0;
            for (const struct node *n = buckets[b]; n; n = n->next) {
                distinct++;
                chain++;
                if (n->count > max_count)
                    max_count = n->count;
            }
            if (chain > longest_chain)
                longest_chain = chain;
        }
        if (iter < 3) {
            rt_print("iter ");
            rt_print_u32(iter);
            rt_print(": built=0x");
            rt_print_hex32(built_hash);
            rt_print(" reversed=0x");
            rt_print_hex32(reversed_hash);
            rt_print(" kept=");
            rt_print_u32(kept);
            rt_print(" found=");
            rt_print_u32(found);
            rt_print(" median=");
            rt_print_i32(median);
            rt_print(" distinct=");
            rt_print_u32(distinct);
            rt_print(" repeats=");
            rt_print_u32(repeats);
            rt_print(" max=");
            rt_print_u32(max_count);
            rt_print(" chain=");
            rt_print_u32(longest_chain);
            rt_print(" live=");
            rt_print_u32(allocated);
            rt_newline();
        }
        total = total * 31 + built_hash + reversed_hash + kept + found + (uint32_t)median + distinct + max_count;
    }
    rt_print_kv_hex32("checksum", total);
    return 0;
}
