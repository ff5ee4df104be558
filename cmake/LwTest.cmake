# Test registration. Debian 12's cmocka 1.1.5 exports no imported target, so use pkg-config.
find_package(PkgConfig REQUIRED)
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)

# tests/unit/test_<name>.c -> ctest entry unit.<name>, label unit.
function(lw_add_unit_test name)
  add_executable(test_${name} ${PROJECT_SOURCE_DIR}/tests/unit/test_${name}.c)
  target_link_libraries(test_${name} PRIVATE lw-core PkgConfig::CMOCKA)
  lw_set_warnings(test_${name})
  add_test(NAME unit.${name} COMMAND test_${name})
  set_tests_properties(unit.${name} PROPERTIES LABELS unit TIMEOUT 120
    ENVIRONMENT "LW_TEST_DATA=${PROJECT_SOURCE_DIR}/tests/data;LW_SHARED_DATA=${PROJECT_SOURCE_DIR}/../shared/data")
endfunction()

# tests/integration/test_<name>.sh -> ctest entry integration.<name>, run with the built binary.
# A script exits 77 to say it skipped (for example when ../shared/data is absent).
function(lw_add_script_test name script)
  add_test(NAME integration.${name} COMMAND bash ${script} $<TARGET_FILE:logwarden>)
  set_tests_properties(integration.${name} PROPERTIES LABELS integration TIMEOUT 600
    SKIP_RETURN_CODE 77
    ENVIRONMENT "LW_TEST_DATA=${PROJECT_SOURCE_DIR}/tests/data;LW_SHARED_DATA=${PROJECT_SOURCE_DIR}/../shared/data")
endfunction()
