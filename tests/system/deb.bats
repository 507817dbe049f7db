#!/usr/bin/env bats
# The Debian packages that `make deb` built (make test-system builds them
# first): lintian, their contents, and install / remove / purge in a booted
# box with apt, as an operator would.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/box'

TOP="$BATS_TEST_DIRNAME/../.."
VERSION=$(sed -n 's/^VERSION *= *//p' "$TOP/Makefile")
ARCH=$(dpkg --print-architecture)
DEBS="$TOP/build/deb"
WEFTD_DEB="weftd_${VERSION}_$ARCH.deb"

teardown() { [ -z "${NAME:-}" ] || box_down "$NAME"; }

# A booted box with the packages in /root.
boot_with_debs() {
	NAME="deb-$BATS_TEST_NUMBER"
	box_up "$NAME"
	cp "$DEBS"/*.deb "$BOX/root/"
	box_boot "$NAME"
}

@test "lintian reports no errors on the packages" {
	run lintian --fail-on error -I --pedantic --tag-display-limit 0 \
	    "$DEBS/weft_${VERSION}_$ARCH.changes"
	# Every tag it finds, for the record.
	echo "$output" | grep -E '^[EWIPX]: ' | sed 's/^/# lintian: /' >&3 || true
	assert_success
	refute_line --regexp '^E: '
}

@test "the packages hold the daemon, the library and its development files" {
	[ -f "$DEBS/$WEFTD_DEB" ]
	run dpkg-deb -c "$DEBS/$WEFTD_DEB"
	for f in usr/sbin/weftd usr/bin/weft-cat usr/bin/weftctl usr/libexec/weft/echo \
	    usr/libexec/weft/echo.py etc/weft/weftd.conf \
	    lib/systemd/system/weftd.service lib/systemd/system/weftd.socket \
	    usr/share/man/man8/weftd.8.gz usr/share/man/man5/weftd.conf.5.gz \
	    usr/share/man/man1/weft-cat.1.gz usr/share/man/man1/weftctl.1.gz usr/share/man/man7/weft-protocol.7.gz; do
		assert_line --regexp " \./$f\$"
	done
	run dpkg-deb -f "$DEBS/$WEFTD_DEB" Depends
	assert_output --partial "libconfuse2"
	run sh -c "dpkg-deb --ctrl-tarfile '$DEBS/$WEFTD_DEB' | tar -xO ./conffiles"
	assert_output "/etc/weft/weftd.conf"
	multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
	run dpkg-deb -c "$DEBS/libweft0_${VERSION}_$ARCH.deb"
	assert_line --regexp " \./usr/lib/$multiarch/libweft\.so\.0\$"
	run dpkg-deb -c "$DEBS/libweft-dev_${VERSION}_$ARCH.deb"
	assert_line --regexp " \./usr/include/weft/weft\.h\$"
	assert_line --regexp " \./usr/lib/$multiarch/libweft\.a\$"
	assert_line --regexp " \./usr/lib/$multiarch/libweft\.so -> libweft\.so\.0\$"
	# The reference pages, with a link per function, and the examples.
	assert_line --regexp " \./usr/share/man/man3/wf_loop\.3\.gz\$"
	assert_line --regexp " \./usr/share/man/man3/wf_loop_post\.3\.gz( -> .*)?\$"
	assert_line --regexp " \./usr/share/doc/libweft-dev/examples/echo\.c(\.gz)?\$"
	run sh -c "dpkg-deb --fsys-tarfile '$DEBS/libweft-dev_${VERSION}_$ARCH.deb' |
	    tar -xO ./usr/lib/$multiarch/pkgconfig/weft.pc"
	assert_line "libdir=/usr/lib/$multiarch"
	assert_line "Version: $VERSION"
}

@test "apt install ./weftd_*.deb starts the service, which answers" {
	boot_with_debs
	run box_in sh -c "cd /root && apt-get install -y ./$WEFTD_DEB"
	assert_success
	run box_in systemctl is-active weftd
	assert_output "active"
	run box_in systemctl is-enabled weftd
	assert_output "enabled"
	# Socket activation stays the operator's choice.
	run box_in systemctl is-enabled weftd.socket
	assert_output "disabled"
	run box_in sh -c 'echo packaged | weft-cat 127.0.0.1:7000'
	assert_success
	assert_output "packaged"
	run box_in journalctl -u weftd -o cat --no-pager
	assert_line "ready: $(auto_io_threads) IO threads, 4 workers of /usr/libexec/weft/echo"
}

@test "apt remove stops it and keeps the config; apt purge removes the config" {
	boot_with_debs
	box_in sh -c "cd /root && apt-get install -y ./$WEFTD_DEB" >/dev/null
	echo "# edited by the operator" >>"$BOX/etc/weft/weftd.conf"
	run box_in apt-get remove -y weftd
	assert_success
	run box_in systemctl is-active weftd
	assert_output "inactive"
	run box_in pgrep -x weftd
	assert_failure
	run tail -n 1 "$BOX/etc/weft/weftd.conf"
	assert_output "# edited by the operator"
	run box_in dpkg-query -W -f='${db:Status-Abbrev}' weftd
	assert_output "rc "
	run box_in apt-get purge -y weftd
	assert_success
	[ ! -e "$BOX/etc/weft" ]
	[ ! -e "$BOX/etc/systemd/system/multi-user.target.wants/weftd.service" ]
	run box_in dpkg-query -W -f='${db:Status-Abbrev}' weftd
	refute_output --regexp '^(ii|rc)'
}

@test "a weftd.socket the operator started is stopped by apt remove" {
	boot_with_debs
	box_in sh -c "cd /root && apt-get install -y ./$WEFTD_DEB" >/dev/null
	box_in systemctl stop weftd
	box_in systemctl start weftd.socket
	run box_in sh -c 'echo activated | weft-cat 127.0.0.1:7000'
	assert_output "activated"
	run box_in apt-get remove -y weftd
	assert_success
	run box_in systemctl is-active weftd.socket weftd.service
	assert_output "inactive
inactive"
}
