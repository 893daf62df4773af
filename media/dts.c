#include <stdbool.h>
#include <stdlib.h>
#include "dts.h"
#include "media.h"

struct _media_dts_t {
    int delay;                          //  D
    int64_t first;                      //  the smallest pts (the first picture shown)
    int64_t step;                       //  one frame's duration
    int64_t count;                      //  packets given a dts so far
    int64_t last;                       //  the last dts given
    int64_t held [MEDIA_DTS_DELAY_MAX + 1];     //  pts not yet used as a dts, sorted
    int nheld;
};

media_dts_t *
media_dts_new (const int64_t *pts, const int64_t *dts, const int64_t *duration, size_t n,
               int min_delay)
{
    if (n == 0)
        return NULL;
    bool broken = false;
    for (size_t i = 0; i < n; i++) {
        if (pts [i] == MEDIA_NOPTS)
            return NULL;                //  nothing to make them from
        if (dts [i] == MEDIA_NOPTS || dts [i] > pts [i] || (i && dts [i] <= dts [i - 1]))
            broken = true;
    }
    if (!broken)
        return NULL;
    //  D: how many pictures shown later at most come before one in decode
    //  order (its position less the pictures shown before it)
    int delay = min_delay > 0? min_delay: 0;
    int64_t first = pts [0];
    uint64_t step = 0;
    for (size_t i = 0; i < n; i++) {
        size_t rank = 0;
        uint64_t next = 0;
        for (size_t j = 0; j < n; j++) {
            rank += pts [j] < pts [i];
            //  The gap to the next picture shown: the smallest is one frame
            uint64_t gap = (uint64_t) pts [j] - (uint64_t) pts [i];
            if (pts [j] > pts [i] && (next == 0 || gap < next))
                next = gap;
        }
        if (i > rank && i - rank > (size_t) delay)
            delay = i - rank > MEDIA_DTS_DELAY_MAX? MEDIA_DTS_DELAY_MAX + 1: (int) (i - rank);
        if (pts [i] < first)
            first = pts [i];
        if (next > 0 && (step == 0 || next < step))
            step = next;
        if (step == 0 && duration [i] > 0)
            step = (uint64_t) duration [i];
    }
    if (delay > MEDIA_DTS_DELAY_MAX)
        return NULL;
    media_dts_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    //  Timestamps from a file can be anything: keep the sums below in range
    if (first < INT64_MIN / 4 || first > INT64_MAX / 4)
        first = 0;
    self->delay = delay;
    self->first = first;
    self->step = step > 0 && step < (UINT64_C (1) << 40)? (int64_t) step: 1;
    self->last = MEDIA_NOPTS;
    return self;
}

int64_t
media_dts_next (media_dts_t *self, int64_t pts)
{
    int64_t dts;
    if (pts == MEDIA_NOPTS)
        dts = self->last == MEDIA_NOPTS? self->first: self->last;      //  + 1 below
    else {
        //  Keep pts among the held ones, in order (at most D + 1 of them)
        if (self->nheld == MEDIA_DTS_DELAY_MAX + 1)
            self->nheld--;              //  deeper than measured: the largest goes
        int at = self->nheld;
        while (at > 0 && self->held [at - 1] > pts) {
            self->held [at] = self->held [at - 1];
            at--;
        }
        self->held [at] = pts;
        self->nheld++;
        if (self->count < self->delay)
            dts = self->first - (self->delay - self->count) * self->step;
        else {
            //  The smallest not used yet: never after this packet's pts
            dts = self->held [0];
            self->nheld--;
            for (int i = 0; i < self->nheld; i++)
                self->held [i] = self->held [i + 1];
        }
    }
    //  Always increasing (a stream reordered deeper than measured may then
    //  get a dts after its pts, which the muxer refuses, as ffmpeg's would)
    if (self->last != MEDIA_NOPTS && dts <= self->last && self->last < INT64_MAX)
        dts = self->last + 1;
    self->count++;
    self->last = dts;
    return dts;
}

int
media_dts_delay (const media_dts_t *self)
{
    return self->delay;
}

void
media_dts_destroy (media_dts_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free (*self_p);
    *self_p = NULL;
}
