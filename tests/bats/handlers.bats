#!/usr/bin/env bats
# The example handlers speak the weft protocol on fd 3, in C and in Python.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

TOP="$BATS_TEST_DIRNAME/../.."
DRIVE="$BATS_TEST_DIRNAME/helpers/drive_handler.py"

@test "the C echo handler answers 200 pipelined requests in order" {
	run timeout 30 python3 "$DRIVE" 200 "${WEFT_BUILD:-$TOP/build}/examples/handlers/echo"
	assert_success
	assert_output "200 answers in order, exit 0"
}

@test "the Python echo handler answers 200 pipelined requests in order" {
	run timeout 30 python3 "$DRIVE" 200 python3 "$TOP/examples/handlers/echo.py"
	assert_success
	assert_output "200 answers in order, exit 0"
}
