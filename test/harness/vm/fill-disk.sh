#!/bb/sh
# Run in a guest: makes ext4 on disk $1, mounts it, and writes $2 files of 256 KiB of random
# data; after each file, sync, then its checksum goes to /tmp/$3.sums and the count to
# /tmp/$3.progress, so the test sees how far the synced data goes. "done" ends the progress.
set -e
dev=$1 n=$2 name=$3 mnt=/mnt/$3
mkfs.ext4 -q -F "$dev"
mkdir -p "$mnt"
mount -t ext4 "$dev" "$mnt"
: > "/tmp/$name.sums"
i=1
while [ "$i" -le "$n" ]; do
  dd if=/dev/urandom of="$mnt/f$i" bs=64k count=4 2>/dev/null
  sync
  sha256sum "$mnt/f$i" >> "/tmp/$name.sums"
  echo "$i" > "/tmp/$name.progress"
  i=$((i + 1))
done
echo done > "/tmp/$name.progress"
