# error_time.gp: relative test error vs wall time of a run, log-log; one curve per method
# through its n grid (median over seeds of the error and of the cells' wall time; bars from
# the min to the max error over seeds). Further left and lower is better.
#   gnuplot -c plots/error_time.gp fig_error_time_X.csv out.png ["title"]
# Input: blocks of "wall_s,median,min,max,n,colour,point,dash" rows with a header naming the
# series; colour = method, point type and dash = target.
in_csv = ARG1
out_file = ARG2
fig_title = (ARGC >= 3) ? ARG3 : ""
load system("dirname '".ARG0."'")."/style.gp"
set logscale xy
set xlabel "wall time of one run (s, one core)"
set ylabel "relative test error" noenhanced
set format x "%g"
set format y "%g"
set key outside right top
set autoscale xfix
set offsets graph 0.05, graph 0.05, 0, 0
# each block's colour, point type and dash are in its columns 6 to 8
array colour[nblocks]
array point[nblocks]
array dash[nblocks]
do for [i=1:nblocks] {
    stats in_csv index (i - 1) using 6 nooutput
    colour[i] = int(STATS_min)
    stats in_csv index (i - 1) using 7 nooutput
    point[i] = int(STATS_min)
    stats in_csv index (i - 1) using 8 nooutput
    dash[i] = int(STATS_min)
}
plot for [i=1:nblocks] in_csv index (i - 1) using 1:2:3:4 with yerrorlines \
     lc rgb series_color(colour[i]) pt series_point(point[i]) dt 1 + dash[i] % 5 \
     title columnheader(1)
