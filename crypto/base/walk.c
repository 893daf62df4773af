#include <stdbool.h>
#include "bytes.h"
#include "err.h"
#include "walk.h"

int
walk_check (const uint8_t *buf, size_t len)
{
    //  stack [d] = items still expected at depth d
    uint64_t stack [WALK_MAX_DEPTH + 1];
    int depth = 0;
    stack [0] = 1;
    size_t pos = 0;
    while (depth >= 0) {
        if (stack [depth] == 0) {
            depth--;
            continue;
        }
        stack [depth]--;
        if (pos >= len)
            return SC_ETRUNC;
        uint8_t b = buf [pos++];
        uint64_t skip = 0;          //  payload bytes after the header
        uint64_t items = 0;         //  child items of a container
        bool container = false;
        int n = 0;                  //  size of a length field
        if (b <= 0x7f || b >= 0xe0 || (b >= 0xc0 && b <= 0xc3 && b != 0xc1))
            ;                       //  fixint, nil, bool
        else if (b >= 0x80 && b <= 0x8f) {
            container = true;
            items = (uint64_t) (b & 0x0f) * 2;
        }
        else if (b >= 0x90 && b <= 0x9f) {
            container = true;
            items = b & 0x0f;
        }
        else if (b >= 0xa0 && b <= 0xbf)
            skip = b & 0x1f;
        else switch (b) {
            case 0xc4: case 0xd9: n = 1; break;             //  bin8, str8
            case 0xc5: case 0xda: n = 2; break;             //  bin16, str16
            case 0xc6: case 0xdb: n = 4; break;             //  bin32, str32
            case 0xcc: case 0xd0: skip = 1; break;
            case 0xcd: case 0xd1: skip = 2; break;
            case 0xce: case 0xd2: case 0xca: skip = 4; break;
            case 0xcf: case 0xd3: case 0xcb: skip = 8; break;
            case 0xdc: case 0xde: container = true; n = 2; break;
            case 0xdd: case 0xdf: container = true; n = 4; break;
            default:
                return SC_EMALFORMED;   //  0xc1 and every ext type
        }
        if (n) {
            if (len - pos < (size_t) n)
                return SC_ETRUNC;
            uint64_t v = bytes_get_be (buf + pos, n);
            pos += (size_t) n;
            if (container)
                items = (b == 0xde || b == 0xdf)? v * 2: v;
            else
                skip = v;
        }
        if (skip > len - pos)
            return skip > WALK_MAX_LEN? SC_ETOOBIG: SC_ETRUNC;
        pos += (size_t) skip;
        if (container && items > 0) {
            //  Every item takes at least one byte
            if (items > len - pos)
                return SC_ETOOBIG;
            if (depth == WALK_MAX_DEPTH)
                return SC_EDEPTH;
            stack [++depth] = items;
        }
    }
    return pos == len? 0: SC_EMALFORMED;
}
