/* Builds the signed NIP-94 announcement of an archive (see archive_announce.h). */
#include "archive_announce.h"
#include "hex.h"
#include <stdio.h>
#include <string.h>

int archive_announcement_build(event *ev, const uint8_t sk[32], const archive_result *res, const archive_links *links,
                               int64_t since, int64_t until, bool pushed, int64_t created_at) {
    char root[CID_MAX_TEXT], prev[CID_MAX_TEXT], sha[65], size[24], s_since[24], s_until[24], count[24];
    char url[CID_MAX_TEXT + 8], content[512];
    cid_to_string(&res->root, root);
    hex_encode(res->sha256, 32, sha);
    snprintf(size, sizeof size, "%llu", (unsigned long long)res->file_size);
    snprintf(s_since, sizeof s_since, "%lld", (long long)since);
    snprintf(s_until, sizeof s_until, "%lld", (long long)until);
    snprintf(count, sizeof count, "%llu", (unsigned long long)res->count);
    snprintf(url, sizeof url, "ipfs://%s", root);
    snprintf(content, sizeof content, "g1relay archive: %llu events with created_at %lld..%lld, root %s",
             (unsigned long long)res->count, (long long)since, (long long)until, root);
    const char *const t_m[] = {"m", ARCHIVE_MEDIA_TYPE, NULL}, *const t_x[] = {"x", sha, NULL},
                      *const t_size[] = {"size", size, NULL}, *const t_cid[] = {"cid", root, NULL},
                      *const t_since[] = {"since", s_since, NULL}, *const t_until[] = {"until", s_until, NULL},
                      *const t_count[] = {"count", count, NULL},
                      *const t_alt[] = {"alt", "g1relay event archive (CAR, IPFS)", NULL};
    const char *const t_prev[] = {"prev", prev, NULL}, *const t_url[] = {"url", url, NULL};
    const char *const *tags[10] = {t_m, t_x, t_size, t_cid, t_since, t_until, t_count, t_alt};
    uint32_t n = 8;
    if (links->has_prev) {
        cid_to_string(&links->prev, prev);
        tags[n++] = t_prev;
    }
    if (pushed) tags[n++] = t_url;
    return event_build_signed(ev, sk, created_at, ARCHIVE_ANNOUNCE_KIND, tags, n, content, strlen(content)) == 0 ? 0 : -1;
}
