#!/bin/sh
# Runs once inside the freshly debootstrapped guest root (chroot), before it is packed.
set -eu
echo musefs-vm >/etc/hostname
# A fixed machine id: no first-boot logic, stable journal paths.
echo 6d7573656673766d7465737400000001 >/etc/machine-id
# Root comes from the initramfs; nothing else to mount.
: >/etc/fstab
# Boot straight into the test driver.
ln -sf /etc/systemd/system/vmtest.target /etc/systemd/system/default.target
# Nothing on the console but the driver; no timers or gettys under test.
for u in getty@.service serial-getty@.service console-getty.service \
    apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \
    fstrim.timer systemd-tmpfiles-clean.timer man-db.timer \
    systemd-timesyncd.service systemd-networkd-wait-online.service; do
    ln -sf /dev/null "/etc/systemd/system/$u"
done
# The journal in memory only (the root disk is a throw-away snapshot anyway).
mkdir -p /etc/systemd/journald.conf.d
printf '[Journal]\nStorage=volatile\n' >/etc/systemd/journald.conf.d/vmtest.conf
mkdir -p /etc/musefs /opt/vmtest /srv
# Shrink the image.
rm -rf /usr/share/doc/* /usr/share/man/* /usr/share/locale/* /usr/share/info/* \
    /var/cache/apt/*.bin /var/cache/apt/archives/*.deb /var/lib/apt/lists/*_Packages
