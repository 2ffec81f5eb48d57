/* Drives the Lua 5.4 library (from the lua-src crate's bundled sources)
 * through a small but real workload, so that LTO has a whole program. */
#include <stdio.h>
#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

static const char *script =
    "local function fib(n) if n < 2 then return n end return fib(n-1) + fib(n-2) end\n"
    "local t = {}\n"
    "for i = 1, 200000 do t[i] = (i * 7919) % 10007 end\n"
    "table.sort(t)\n"
    "local words = {}\n"
    "for w in string.gmatch(string.rep('lto links the whole program ', 2000), '%a+') do\n"
    "  words[w] = (words[w] or 0) + 1\n"
    "end\n"
    "print(string.format('fib=%d median=%d lto=%d', fib(27), t[100000], words.lto))\n";

int main(void) {
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    if (luaL_dostring(L, script) != LUA_OK) {
        fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
        return 1;
    }
    lua_close(L);
    return 0;
}
