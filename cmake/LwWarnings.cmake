# Warning flags for every target of the project; -Werror when LW_WERROR is on (dev, asan and CI).
function(lw_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wstrict-prototypes
    -Wno-unused-parameter -Wformat=2 -Wvla)
  if(LW_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
