#!/bin/sh
# Bring up SocketCAN on a Raspberry Pi with an MCP2515 CAN HAT (e.g. PiCAN2, Waveshare).
# 1. In /boot/firmware/config.txt (or /boot/config.txt on older images) add, with the
#    oscillator and interrupt pin of your HAT:
#        dtparam=spi=on
#        dtoverlay=mcp2515-can0,oscillator=16000000,interrupt=25
#    and reboot.
# 2. Run this script (as root) or install firmware_config/80-can0.network for systemd-networkd.
# Usage: can-setup.sh [interface] [bitrate]     J1939: 250000 (some buses 500000); OBD-II: 500000
set -eu
IFACE="${1:-can0}"
BITRATE="${2:-250000}"
ip link set "$IFACE" down 2>/dev/null || true
# listen-only keeps the agent from ever acknowledging frames on a J1939 bus it only watches;
# OBD-II polling needs it off (the agent must transmit requests).
if [ "${LISTEN_ONLY:-off}" = "on" ]; then
  ip link set "$IFACE" type can bitrate "$BITRATE" restart-ms 100 listen-only on
else
  ip link set "$IFACE" type can bitrate "$BITRATE" restart-ms 100
fi
ip link set "$IFACE" txqueuelen 1000
ip link set "$IFACE" up
ip -details link show "$IFACE"
