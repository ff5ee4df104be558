# Writes a C file that holds the bytes of IN as a NUL-ended char array named NAME (and
# NAME_len, its length without the NUL): compiled-in documents such as docs/openapi.json.
# Usage: cmake -DIN=file -DOUT=file.c -DNAME=symbol -P LwEmbed.cmake
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n_hex)
math(EXPR n "${n_hex} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n" bytes "${bytes}")
file(WRITE ${OUT} "/* Generated from ${IN} by cmake/LwEmbed.cmake; do not edit. */\n#include <stddef.h>\n"
  "const char ${NAME}[] = {\n${bytes}0x00};\nconst size_t ${NAME}_len = ${n};\n")
